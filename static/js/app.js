// Small enhancements of the compose form; every form on the site also works without this file.
document.documentElement.classList.add("js");

function showNextSpareRow(button) {
  const container = button.closest("[data-rows]");
  const spare = container && container.querySelector(".row[data-spare]");
  if (spare) {
    spare.removeAttribute("data-spare");
    spare.querySelector("input")?.focus();
  }
  if (!container.querySelector(".row[data-spare]")) {
    button.disabled = true;
    button.textContent = "No more rows";
  }
}

function syncSessionSettings(form) {
  const sessionInput = form.querySelector("[name=session_id]");
  const settings = form.querySelector("[data-session-settings]");
  if (!sessionInput || !settings) return;
  const existing = sessionInput.value.trim() !== "";
  settings.disabled = existing;
  settings.querySelector("[data-session-note]").hidden = !existing;
}

document.addEventListener("click", (event) => {
  const addRow = event.target.closest("[data-add-row]");
  if (addRow) {
    showNextSpareRow(addRow);
    return;
  }
  const insert = event.target.closest("[data-insert-schema]");
  if (insert) {
    const field = insert.closest("details").querySelector("textarea[name=structured_output]");
    if (field.value.trim() === "" || window.confirm("Replace the schema you typed with the example?")) {
      field.value = insert.dataset.example;
      field.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }
});

document.addEventListener("input", (event) => {
  if (event.target.name === "session_id") syncSessionSettings(event.target.form);
});

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compose-form");
  if (form) syncSessionSettings(form);
});

document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.requestSubmit();
});
