// Pickers of the compose and new-session forms. A picker only writes into an ordinary form field, so the
// field stays the single source of what is sent, and typing an ID by hand keeps working without this file.

function announce(field) {
  // "input" lets app.js enable or disable the new-session settings, "change" reloads panels and the preview.
  field.dispatchEvent(new Event("input", { bubbles: true }));
  field.dispatchEvent(new Event("change", { bubbles: true }));
}

function fillFromPicker(control) {
  const field = document.getElementById(control.dataset.fills);
  if (!field || field.value === control.value) return;
  field.value = control.value;
  announce(field);
}

function skillIdLines(textarea) {
  return textarea.value.split(/[\s,]+/).filter((line) => line !== "");
}

function toggleSkill(checkbox) {
  const form = checkbox.form || document;
  const textarea = form.querySelector("textarea[name=skill_ids]");
  if (!textarea) return;
  const id = checkbox.dataset.skillId;
  let ids = skillIdLines(textarea).filter((line) => line.toLowerCase() !== id.toLowerCase());
  if (checkbox.checked) ids.push(id);
  textarea.value = ids.join("\n");

  // Choosing a skill means "These skills"; clearing the last one goes back to no skills.
  const mode = form.querySelector(`[name=skills_mode][value=${ids.length ? "selected" : "none"}]`);
  if (mode && (ids.length || form.querySelector("[name=skills_mode][value=selected]").checked)) {
    mode.checked = true;
    mode.dispatchEvent(new Event("change", { bubbles: true }));
  }
  announce(textarea);
}

document.addEventListener("change", (event) => {
  const target = event.target;
  if (target.matches("select[data-fills], input[type=radio][data-fills]")) fillFromPicker(target);
  else if (target.matches("input[type=checkbox][data-skill-id]")) toggleSkill(target);
});

// Enter in a picker's search box would submit the surrounding form, which on the compose page launches a task.
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.matches("[data-picker-search]")) event.preventDefault();
});
