"""Template pages: list, editor, detail with runs and versions, launch with variables, and "Run again"."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from tasks_ui.forms import RUN_ID_METADATA_KEY, USER_METADATA_PAIRS
from tasks_ui.forms_templates import ASK, STORE, TemplateEditor, launch_form_class, launch_form_values
from tasks_ui.models import Membership, Run, TaskTemplate
from tasks_ui.payloads import form_initial_from_request
from tasks_ui.selectors import runs as run_selectors
from tasks_ui.selectors import templates as selectors
from tasks_ui.services import runs as run_services
from tasks_ui.services import templates as services
from tasks_ui.services.teams import membership_for_user
from tasks_ui.views.runs import HtmxHttpRequest, _is_uuid

# Sections of the editor, in page order: (key, title, TaskForm fields).
EDITOR_SECTIONS = [
    ("output", "Output", ["structured_output"]),
    ("session", "Session", ["session_id", "profile_id", "proxy_country", "screen_width", "screen_height", "enable_recording"]),
    ("agent", "Agent", ["vision", "thinking", "thinking_level", "flash_mode", "highlight_elements", "system_prompt_extension"]),
    ("security", "Security", ["allowed_domains", "op_vault_id"]),
    ("judge", "Judge", ["judge", "judge_ground_truth", "judge_llm"]),
    ("skills", "Skills", ["skills_mode", "skill_ids"]),
]


def _membership(request) -> Membership:
    return membership_for_user(user=request.user)


def _launcher(request) -> Membership:
    membership = _membership(request)
    if not membership.can_launch:
        raise PermissionDenied("Viewers cannot launch tasks or save templates.")
    return membership


def _template_for_user(request, membership: Membership, template_id) -> TaskTemplate:
    template = selectors.template_get(team=membership.team, user=request.user, template_id=template_id)
    if template is None:
        raise Http404("No such template in this team.")
    return template


def _editable(request, template_id) -> tuple[Membership, TaskTemplate]:
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    if not services.can_edit(membership, template):
        raise PermissionDenied("Only its owner can change a personal template.")
    return membership, template


@require_GET
def template_list(request: HtmxHttpRequest):
    membership = _membership(request)
    search, mine = request.GET.get("q", ""), request.GET.get("mine") == "1"
    context = {
        "templates": selectors.template_list(team=membership.team, user=request.user, search=search, mine=mine),
        "search": search,
        "mine": mine,
        "membership": membership,
    }
    return render(request, "tasks_ui/templates.html", context)


def _editor_context(editor: TemplateEditor, membership: Membership, **extra) -> dict:
    sections = [
        {"key": key, "title": title, "fields": [editor.task[name] for name in names]} for key, title, names in EDITOR_SECTIONS
    ]
    return {
        "editor": editor,
        "sections": sections,
        "open_sections": editor.open_sections(),
        "membership": membership,
        "metadata_free": USER_METADATA_PAIRS,
        "reserved_key": RUN_ID_METADATA_KEY,
        "variable_fields": services.VARIABLE_FIELDS_TEXT,
        **extra,
    }


def _secret_rows(request_body: dict, stored: dict[str, str]) -> list[dict]:
    return [{"domain": domain, "mode": STORE if domain in stored else ASK} for domain in services.secret_domains(request_body)]


def _editor_from_version(template: TaskTemplate) -> TemplateEditor:
    version = services.latest_version(template)
    initial, metadata = form_initial_from_request(version.request)
    stored = services.version_secrets(version)
    return TemplateEditor(
        initial=initial,
        metadata=metadata,
        meta_initial={"name": template.name, "description": template.description, "visibility": "shared" if template.shared else "personal"},
        variables=version.variables,
        secret_rows=_secret_rows(version.request, stored),
        stored_secrets=stored,
    )


@require_http_methods(["GET", "POST"])
def template_new(request: HtmxHttpRequest):
    membership = _launcher(request)
    if request.method == "GET":
        editor = TemplateEditor(meta_initial={"visibility": "shared"})
        if (source := request.GET.get("from_run")) and _is_uuid(source):
            run = run_selectors.run_get(team=membership.team, run_id=source)
            if run is not None:
                initial, metadata = form_initial_from_request(run.request)
                editor = TemplateEditor(
                    initial=initial, metadata=metadata, secret_rows=_secret_rows(run.request, {}),
                    meta_initial={"name": run.task_text[:60], "visibility": "shared"},
                )
        return render(request, "tasks_ui/template_form.html", _editor_context(editor, membership))

    if request.POST.get("source") == "compose":
        # The compose page's "Save as template" posts its form here: show it in the editor, named after the task.
        editor = TemplateEditor(
            request.POST, check_meta=False, meta_initial={"name": request.POST.get("task", "")[:60], "visibility": "shared"}
        )
        return render(request, "tasks_ui/template_form.html", _editor_context(editor, membership))

    editor = TemplateEditor(request.POST)
    if editor.is_valid():
        template = services.template_create(team=membership.team, user=request.user, **editor.result())
        messages.success(request, f"Template “{template.name}” saved.")
        return redirect("tasks_ui:template-detail", template_id=template.pk)
    return render(request, "tasks_ui/template_form.html", _editor_context(editor, membership))


@require_POST
def template_variables(request: HtmxHttpRequest):
    """Render the editor's variables table for its htmx request, one row per placeholder found so far."""
    membership = _launcher(request)
    editor = TemplateEditor(request.POST, check_meta=False)
    return render(request, "tasks_ui/template_form.html#variables", _editor_context(editor, membership))


@require_http_methods(["GET", "POST"])
def template_edit(request: HtmxHttpRequest, template_id):
    membership, template = _editable(request, template_id)
    if request.method == "GET":
        return render(request, "tasks_ui/template_form.html", _editor_context(_editor_from_version(template), membership, template=template))

    stored = services.version_secrets(services.latest_version(template))
    editor = TemplateEditor(request.POST, stored_secrets=stored)
    if editor.is_valid():
        result = editor.result()
        if not result["shared"] and template.owner_id != request.user.pk:
            editor.meta.add_error("visibility", "Only the template's owner can make it personal.")
        else:
            version = services.template_update(template=template, user=request.user, **result)
            if version is None:
                messages.success(request, "Template saved; its request did not change, so there is no new version.")
            else:
                messages.success(request, f"Template saved as version {version.number}.")
            return redirect("tasks_ui:template-detail", template_id=template.pk)
    return render(request, "tasks_ui/template_form.html", _editor_context(editor, membership, template=template))


@require_GET
@vary_on_headers("HX-Request")
def template_detail(request: HtmxHttpRequest, template_id):
    membership = _membership(request)
    template = _template_for_user(request, membership, template_id)
    version = services.latest_version(template)
    page = selectors.template_runs(template=template, page_number=request.GET.get("page"))
    run_services.runs_refresh(team=membership.team, runs=list(page))

    stored = services.version_secrets(version)
    context = {
        "template": template,
        "version": version,
        "variables": services.version_variables(version),
        "request_json": json.dumps(version.request, indent=2, ensure_ascii=False),
        "secrets": [{"domain": domain, "stored": domain in stored} for domain in services.secret_domains(version.request)],
        "page": page,
        "polling": any(not run.is_settled for run in page),
        "summary": selectors.template_run_summary(template=template),
        "versions": selectors.template_versions(template=template),
        "batches": selectors.template_batches(template=template),
        "can_edit": services.can_edit(membership, template),
        "can_delete": services.can_delete(membership, template),
        "membership": membership,
    }
    template_name = "tasks_ui/template_detail.html#template-runs" if request.htmx else "tasks_ui/template_detail.html"
    return render(request, template_name, context)


def _launch_context(template, version, form, membership, **extra) -> dict:
    return {"template": template, "version": version, "form": form, "membership": membership, **extra}


def _launch_preview(version, form) -> dict:
    """Return the preview for a bound launch form: the request JSON, or the errors that stop the launch."""
    form.is_valid()
    values, typed = launch_form_values(form)
    try:
        body, secrets = services.prepare_launch(version, values, typed)
    except services.LaunchInvalid as invalid:
        partial = services.partial_request(version, values)
        return {
            "preview": services.preview_json(partial, partial.get("secrets")),
            "preview_errors": invalid.errors,
            "variable_errors": invalid.variable_errors,
        }
    return {"preview": services.preview_json(body, secrets), "preview_errors": [], "variable_errors": {}}


@require_http_methods(["GET", "POST"])
def template_launch(request: HtmxHttpRequest, template_id):
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    version = services.latest_version(template)
    variables = services.version_variables(version)
    stored = services.version_secrets(version)
    asked = [domain for domain in services.secret_domains(version.request) if domain not in stored]
    form_class = launch_form_class(variables, asked)

    if request.method == "GET":
        form = form_class(initial={f"var_{variable.name}": variable.default for variable in variables})
        preview = _launch_preview(version, form_class({f"var_{v.name}": v.default for v in variables}))
        # Nothing is typed yet, so the errors about empty variables wait for the first change.
        preview["preview_errors"] = []
        return render(request, "tasks_ui/template_launch.html", _launch_context(template, version, form, membership, **preview))

    form = form_class(request.POST)
    preview = _launch_preview(version, form)
    for name, message in preview["variable_errors"].items():
        if f"var_{name}" in form.fields:
            form.add_error(f"var_{name}", message)
    if preview["preview_errors"] or request.POST.get("action") == "preview":
        return render(request, "tasks_ui/template_launch.html", _launch_context(template, version, form, membership, **preview))

    values, typed = launch_form_values(form)
    try:
        run = services.template_launch(template=template, user=request.user, given=values, typed_secrets=typed)
    except run_services.LaunchFailed as failure:
        if failure.error.outcome_unknown:
            messages.warning(
                request,
                f"{failure.error.message} The task may or may not have started; the dashboard is looking for it by "
                "its run id. Do not launch it again until this run shows its outcome.",
            )
            return redirect("tasks_ui:run-detail", run_id=failure.run.pk)
        preview["preview_errors"] = [f"The API did not start the task: {failure.error.message}"]
        return render(request, "tasks_ui/template_launch.html", _launch_context(template, version, form, membership, **preview))
    messages.success(request, f"Task launched from “{template.name}”.")
    return redirect("tasks_ui:run-detail", run_id=run.pk)


@require_POST
def template_launch_preview(request: HtmxHttpRequest, template_id):
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    version = services.latest_version(template)
    stored = services.version_secrets(version)
    asked = [domain for domain in services.secret_domains(version.request) if domain not in stored]
    form = launch_form_class(services.version_variables(version), asked)(request.POST)
    context = {"membership": membership, **_launch_preview(version, form)}
    return render(request, "tasks_ui/template_launch.html#launch-preview", context)


@require_POST
def template_duplicate(request: HtmxHttpRequest, template_id):
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    copy = services.template_duplicate(template=template, user=request.user)
    messages.success(request, f"Saved a copy as “{copy.name}”.")
    return redirect("tasks_ui:template-detail", template_id=copy.pk)


@require_POST
def template_delete(request: HtmxHttpRequest, template_id):
    membership = _launcher(request)
    template = _template_for_user(request, membership, template_id)
    if not services.can_delete(membership, template):
        raise PermissionDenied("Only the template's owner or a team admin can delete it.")
    try:
        services.template_delete(template=template, user=request.user)
    except services.TemplateError as error:
        messages.error(request, error.message)
        return redirect("tasks_ui:template-detail", template_id=template.pk)
    messages.success(request, f"Template “{template.name}” deleted. Its runs keep its name in the history.")
    return redirect("tasks_ui:template-list")


@require_POST
def template_restore(request: HtmxHttpRequest, template_id, number: int):
    _, template = _editable(request, template_id)
    try:
        version = services.template_restore(template=template, number=number, user=request.user)
    except services.TemplateError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Version {number} restored as version {version.number}.")
    return redirect("tasks_ui:template-detail", template_id=template.pk)


def _run_for_user(request, membership: Membership, run_id) -> Run:
    run = run_selectors.run_get(team=membership.team, run_id=run_id)
    if run is None:
        raise Http404("No such run in this team.")
    return run


@require_http_methods(["GET", "POST"])
def run_again(request: HtmxHttpRequest, run_id):
    """Show the request a run sent, ask for the credentials that are not kept, and send it again."""
    membership = _launcher(request)
    run = _run_for_user(request, membership, run_id)
    asked = services.run_again_secrets_needed(run, request.user)
    form = launch_form_class([], asked)(request.POST if request.method == "POST" else None)
    context = {"run": run, "form": form, "membership": membership, "errors": []}

    if request.method == "POST" and form.is_valid():
        _, typed = launch_form_values(form)
        try:
            new_run = services.run_again(run=run, user=request.user, typed_secrets=typed)
        except services.LaunchInvalid as invalid:
            context["errors"] = invalid.errors
        except run_services.LaunchFailed as failure:
            if failure.error.outcome_unknown:
                messages.warning(request, f"{failure.error.message} The dashboard is looking for the task by its run id.")
                return redirect("tasks_ui:run-detail", run_id=failure.run.pk)
            context["errors"] = [f"The API did not start the task: {failure.error.message}"]
        else:
            messages.success(request, "Task launched again with the same request.")
            return redirect("tasks_ui:run-detail", run_id=new_run.pk)

    shown = {key: value for key, value in run.request.items()}
    # The old run's own id is replaced by a new one at launch, so the preview leaves it out.
    metadata = {k: v for k, v in (shown.get("metadata") or {}).items() if k != RUN_ID_METADATA_KEY}
    if metadata:
        shown["metadata"] = metadata
    else:
        shown.pop("metadata", None)
    context["preview"] = services.preview_json({k: v for k, v in shown.items() if k != "secrets"}, shown.get("secrets"))
    return render(request, "tasks_ui/template_run_again.html", context)
