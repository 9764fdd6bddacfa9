"""Pages of the dashboard. Each view authorises, validates, makes one service call and responds."""

import json
import logging
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms.utils import ErrorList
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from tasks_ui import client as api
from tasks_ui.forms import EXAMPLE_SCHEMA, RUN_ID_METADATA_KEY, USER_METADATA_PAIRS, ComposeForm
from tasks_ui.imports import compose_form_from_json
from tasks_ui.models import Membership, Run
from tasks_ui.payloads import build_task_request, form_field_for_error_location, form_initial_from_request, mask_secrets
from tasks_ui.selectors import runs as selectors
from tasks_ui.services import account as account_services
from tasks_ui.services import runs as services
from tasks_ui.services import sessions as session_services
from tasks_ui.services.teams import membership_for_user

logger = logging.getLogger(__name__)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _membership(request: HtmxHttpRequest) -> Membership:
    return membership_for_user(user=request.user)


def _launcher(request: HtmxHttpRequest) -> Membership:
    membership = _membership(request)
    if not membership.can_launch:
        raise PermissionDenied("Viewers cannot launch or stop tasks.")
    return membership


def _run_for_user(request: HtmxHttpRequest, run_id) -> Run:
    run = selectors.run_get(team=_membership(request).team, run_id=run_id)
    if run is None:
        raise Http404("No such run in this team.")
    return run


@require_GET
@vary_on_headers("HX-Request")
def history(request: HtmxHttpRequest):
    membership = _membership(request)
    mine = request.GET.get("mine") == "1"
    launcher_id = request.user.pk if mine else _int_or_none(request.GET.get("by"))
    page = selectors.run_page(team=membership.team, page_number=request.GET.get("page"), launched_by_id=launcher_id)
    services.runs_refresh(team=membership.team, runs=list(page))

    context = {
        "page": page,
        "mine": mine,
        "launcher_id": launcher_id,
        "launchers": [] if request.htmx else selectors.team_launchers(team=membership.team),
        "filter_query": _filter_query(mine, launcher_id),
        "polling": any(not run.is_settled for run in page),
        "membership": membership,
    }
    template = "tasks_ui/history.html#run-list" if request.htmx else "tasks_ui/history.html"
    return render(request, template, context)


def _filter_query(mine: bool, launcher_id: int | None) -> str:
    """Return the history filter as a query string, for the pager's links."""
    if mine:
        return "mine=1"
    if launcher_id:
        return f"by={launcher_id}"
    return ""


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _compose_context(form: ComposeForm, membership: Membership, **extra) -> dict:
    return {
        "form": form,
        "membership": membership,
        "open_sections": form.open_sections(),
        "error_sections": form.sections_with_errors(),
        "metadata_free": USER_METADATA_PAIRS,
        "reserved_key": RUN_ID_METADATA_KEY,
        "example_schema": json.dumps(EXAMPLE_SCHEMA, indent=2),
        **extra,
    }


def _capacity_message(team) -> str:
    try:
        usage = account_services.session_usage(team=team)
    except account_services.AccountUnavailable:
        return "All concurrent browser sessions of this project are busy."
    return f"All {usage.limit} concurrent browser sessions of this project are busy ({usage.active} active)."


def _apply_launch_error(form: ComposeForm, error: api.ApiError, team=None) -> None:
    """Put an API rejection on the form: a 422 on the fields its `loc` names, anything else on top."""
    if isinstance(error, api.ApiRateLimited) and error.capacity:
        form.add_error(
            None, f"{_capacity_message(team)} Wait for a task to finish, or stop an idle session; nothing was launched."
        )
        form.capacity_full = True
        return
    if isinstance(error, api.ApiBadRequest) and form.task.cleaned_data.get("session_id"):
        # The API returns 400 when the chosen session has stopped or is still running a task.
        form.add_error("session_id", session_services.launch_error_message(error))
        return
    if not isinstance(error, api.ApiValidationError) or not error.errors:
        form.add_error(None, error.message)
        return
    for item in error.errors:
        field = form_field_for_error_location(item.get("loc") or [])
        message = f"The API rejected this: {item.get('msg', 'invalid value')}."
        if field in ("metadata", "secrets"):
            formset = getattr(form, field)
            formset._non_form_errors = ErrorList([*formset.non_form_errors(), message])
        elif field:
            form.add_error(field, message)
        else:
            form.add_error(None, f"The API rejected the request: {item.get('msg', 'invalid value')}.")


@require_http_methods(["GET", "POST"])
def compose(request: HtmxHttpRequest):
    membership = _launcher(request)
    if request.method == "GET":
        initial, metadata = {}, {}
        if source := request.GET.get("from"):
            run = selectors.run_get(team=membership.team, run_id=source) if _is_uuid(source) else None
            if run is not None:
                initial, metadata = form_initial_from_request(run.request)
        if session_id := request.GET.get("session"):
            initial["session_id"] = session_id
        form = ComposeForm(initial=initial, metadata=metadata)
        return render(request, "tasks_ui/compose.html", _compose_context(form, membership))

    if "import_request" in request.POST:
        return _compose_import(request, membership)

    form = ComposeForm(request.POST)
    if form.is_valid() and (session_id := form.task.cleaned_data.get("session_id")):
        # A stopped or busy session is reported on its field before anything is sent or recorded.
        if problem := session_services.session_launch_problem(team=membership.team, session_id=session_id):
            form.add_error("session_id", problem)
    if form.is_valid():
        body = build_task_request(form.task.cleaned_data, form.metadata.pairs(), {})
        try:
            run = services.run_launch(team=membership.team, user=request.user, body=body, secrets=form.secrets.pairs())
        except services.LaunchDeferred as deferred:
            form.add_error(None, deferred.message)
        except services.LaunchFailed as failure:
            if failure.error.outcome_unknown:
                messages.warning(
                    request,
                    f"{failure.error.message} The task may or may not have started; the dashboard is looking "
                    "for it by its run id. Do not launch it again until this run shows its outcome.",
                )
                return redirect("tasks_ui:run-detail", run_id=failure.run.pk)
            _apply_launch_error(form, failure.error, team=membership.team)
        else:
            messages.success(request, "Task launched.")
            return redirect("tasks_ui:run-detail", run_id=run.pk)

    context = _compose_context(form, membership, preview=_preview_body(form))
    return render(request, "tasks_ui/compose.html", context)


def _compose_import(request: HtmxHttpRequest, membership: Membership):
    """Fill the compose form from a pasted request body; nothing is launched."""
    text = request.POST.get("request_json", "")
    form, problems = compose_form_from_json(text)
    if problems:
        context = _compose_context(ComposeForm(), membership, import_problems=problems, import_text=text)
        return render(request, "tasks_ui/compose.html", context, status=400)
    form.is_valid()
    messages.info(request, "The request was imported. Check it below, then launch.")
    return render(request, "tasks_ui/compose.html", _compose_context(form, membership, preview=_preview_body(form)))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _preview_body(form: ComposeForm) -> str:
    """Return the masked request body as JSON, built from the fields that are valid so far."""
    data = getattr(form.task, "cleaned_data", {})
    metadata = form.metadata.pairs() if form.metadata.is_valid() else {}
    secrets = form.secrets.pairs() if form.secrets.is_valid() else {}
    body = build_task_request({"task": data.get("task", ""), **data}, metadata, secrets)
    body["metadata"] = {**body.get("metadata", {}), RUN_ID_METADATA_KEY: "(assigned at launch)"}
    return json.dumps(mask_secrets(body), indent=2, ensure_ascii=False)


@require_POST
def compose_preview(request: HtmxHttpRequest):
    membership = _launcher(request)
    form = ComposeForm(request.POST)
    form.is_valid()
    context = {"preview": _preview_body(form), "preview_errors": form.fields_with_errors(), "membership": membership}
    return render(request, "tasks_ui/compose.html#payload-preview", context)


@require_GET
@vary_on_headers("HX-Request")
def run_detail(request: HtmxHttpRequest, run_id):
    membership = _membership(request)
    run = _run_for_user(request, run_id)
    run = services.run_refresh(run=run, full=True)

    context = {
        "run": run,
        "membership": membership,
        "request_json": json.dumps(run.request, indent=2, ensure_ascii=False),
        "output": selectors.run_output(run),
        "judgement": selectors.run_judgement(run),
        "steps": selectors.run_steps(run),
        "view": run.snapshot or {},
    }
    template = "tasks_ui/run_detail.html#run-live" if request.htmx else "tasks_ui/run_detail.html"
    return render(request, template, context)


@require_POST
def run_stop(request: HtmxHttpRequest, run_id):
    _launcher(request)
    run = _run_for_user(request, run_id)
    with_session = request.POST.get("with_session") == "1"
    try:
        run = services.run_stop(run=run, actor=request.user, with_session=with_session)
    except services.RunActionFailed as failure:
        messages.error(request, failure.message)
    else:
        messages.success(request, f"The task is {run.status}." + (" Its session was stopped too." if with_session else ""))
    return redirect("tasks_ui:run-detail", run_id=run.pk)


@require_GET
def run_output_file(request: HtmxHttpRequest, run_id, file_id):
    run = _run_for_user(request, run_id)
    try:
        url = services.run_output_file_url(run=run, file_id=str(file_id))
    except services.RunActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:run-detail", run_id=run.pk)
    return HttpResponseRedirect(url)


@require_GET
def run_logs(request: HtmxHttpRequest, run_id):
    run = _run_for_user(request, run_id)
    try:
        url = services.run_logs_url(run=run)
    except services.RunActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:run-detail", run_id=run.pk)
    return HttpResponseRedirect(url)
