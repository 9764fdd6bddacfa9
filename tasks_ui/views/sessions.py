"""Session pages: the list, a new session, one session's tasks, its live view, recording and public share.

Each view authorises (a session the team does not own is a 404; viewers cannot create, stop, delete or
share), validates, makes one service call and responds.
"""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from tasks_ui import client as api
from tasks_ui.forms_sessions import SessionForm
from tasks_ui.models import TERMINAL_STATUSES, Membership
from tasks_ui.selectors import sessions as selectors
from tasks_ui.services import account as account_services
from tasks_ui.services import runs as run_services
from tasks_ui.services import sessions as services
from tasks_ui.services.teams import membership_for_user

SESSIONS_PAGE_SIZE = 50
STATUS_FILTERS = {"active": "Active", "stopped": "Stopped"}
# While the browser starts, the live view is checked every 2 seconds, 30 times: about a minute.
LIVE_START_INTERVAL_SECONDS = 2
LIVE_START_MAX_ATTEMPTS = 30
# Once the live view shows, the session's status is checked every 5 seconds for at most 30 minutes.
LIVE_STATUS_INTERVAL_SECONDS = 5
LIVE_STATUS_MAX_ATTEMPTS = 360
# After a session stops, its recording is looked for every 5 seconds, 24 times: about two minutes.
RECORDING_INTERVAL_SECONDS = 5
RECORDING_MAX_ATTEMPTS = 24

# Form field of each create-session request field, to put a 422 error from the API on the right field.
FORM_FIELD_FOR_API_FIELD = {
    "profileId": "profile_id",
    "proxyCountryCode": "proxy_country",
    "startUrl": "start_url",
    "browserScreenWidth": "screen_width",
    "browserScreenHeight": "screen_height",
    "persistMemory": "persist_memory",
    "keepAlive": "keep_alive",
    "enableRecording": "enable_recording",
    "customProxy.host": "proxy_host",
    "customProxy.port": "proxy_port",
    "customProxy.username": "proxy_username",
    "customProxy.password": "proxy_password",
    "customProxy.ignoreCertErrors": "proxy_ignore_cert_errors",
}


def _membership(request) -> Membership:
    return membership_for_user(user=request.user)


def _operator(request) -> Membership:
    membership = _membership(request)
    if not membership.can_launch:
        raise PermissionDenied("Viewers cannot create, stop, delete or share sessions.")
    return membership


def _owned(membership: Membership, session_id) -> str:
    """Return the session id as text, or raise Http404 when the team does not own the session."""
    if not selectors.team_owns_session(team=membership.team, session_id=session_id):
        raise Http404("No such session in this team.")
    return str(session_id)


def _attempt(request) -> int:
    try:
        return max(int(request.GET.get("attempt", 0)), 0)
    except ValueError:
        return 0


def _redirect_back(request, session_id):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("tasks_ui:session-detail", session_id=session_id)


@require_GET
def sessions_list(request):
    membership = _membership(request)
    status = request.GET.get("status") if request.GET.get("status") in STATUS_FILTERS else None
    try:
        listing = services.sessions_list(team=membership.team, status=status)
    except services.SessionActionFailed as failure:
        listing, error = services.SessionListing(sessions=[]), failure.message
    else:
        error = ""
    # Whether a session is busy comes from its runs, so their open ones are brought up to date first.
    run_services.runs_refresh(team=membership.team, runs=[run for info in listing.sessions for run in info.runs])

    context = {
        "membership": membership,
        "page": Paginator(listing.sessions, SESSIONS_PAGE_SIZE).get_page(request.GET.get("page")),
        "truncated": listing.truncated,
        "error": error,
        "status": status or "",
        "status_filters": STATUS_FILTERS,
        "idle_count": sum(info.is_idle_keep_alive for info in listing.sessions),
    }
    return render(request, "tasks_ui/sessions.html", context)


def _apply_create_error(form: SessionForm, error: api.ApiError) -> None:
    """Put an API rejection on the form: 422 items on the fields their `loc` names, a missing profile on its field."""
    if isinstance(error, api.ApiNotFound) and not error.route_missing and "profile" in error.message.lower():
        form.add_error("profile_id", "The API has no profile with this ID. Pick one from the list.")
        return
    if not isinstance(error, api.ApiValidationError) or not error.errors:
        form.add_error(None, error.message)
        return
    for item in error.errors:
        parts = [str(part) for part in item.get("loc") or [] if part != "body"]
        field = FORM_FIELD_FOR_API_FIELD.get(".".join(parts[:2])) or FORM_FIELD_FOR_API_FIELD.get(".".join(parts[:1]))
        # Only `msg` is shown: the item's `input` may echo the proxy password.
        message = f"The API rejected this: {item.get('msg', 'invalid value')}."
        form.add_error(field if field in form.fields else None, message)


@require_http_methods(["GET", "POST"])
def session_new(request):
    membership = _operator(request)
    if request.method == "GET":
        form = SessionForm()
        return render(request, "tasks_ui/session_new.html", {"form": form, "membership": membership})

    form = SessionForm(request.POST)
    if form.is_valid():
        body = services.build_session_request(form.cleaned_data)
        try:
            record = services.session_create(
                team=membership.team, user=request.user, name=form.cleaned_data["name"], body=body
            )
        except services.SessionCreateFailed as failure:
            _apply_create_error(form, failure.error)
            if failure.error.outcome_unknown:
                # NOTE: a session created despite the lost response is not recorded, so it does not appear
                # in the list, and a keep-alive one runs until the API's session timeout.
                form.add_error(None, "The response was lost, so a session may have started anyway. Check the active session count on the Account page before trying again.")
        else:
            messages.success(request, "Session created.")
            return redirect("tasks_ui:session-detail", session_id=record.session_id)

    context = {
        "form": form,
        "membership": membership,
        "error_sections": form.sections_with_errors(),
        "password_dropped": bool(request.POST.get("proxy_password")),
    }
    return render(request, "tasks_ui/session_new.html", context, status=400)


def _conversation(info: services.SessionInfo | None, runs: list) -> list[dict]:
    """Return the session's tasks oldest first, each with the team's run that launched it, if any."""
    by_task = {str(run.task_id): run for run in runs if run.task_id}
    if info is None or info.tasks is None:
        return [{"task": None, "run": run} for run in runs]
    return [{"task": task, "run": by_task.get(task["id"])} for task in info.tasks]


@require_GET
@vary_on_headers("HX-Request")
def session_detail(request, session_id):
    membership = _membership(request)
    session_id = _owned(membership, session_id)
    team = membership.team
    error, info, live_url = "", None, None
    try:
        info, live_url = services.session_live(team=team, session_id=session_id)
    except services.SessionActionFailed as failure:
        error = failure.message
    runs = info.runs if info else selectors.session_runs(team=team, session_id=session_id)
    conversation = _conversation(info, runs)
    context = {
        "membership": membership,
        "session_id": session_id,
        "session": info,
        "error": error,
        "conversation": conversation,
        "polling": any(item["task"] and item["task"]["status"] not in TERMINAL_STATUSES for item in conversation),
    }
    if request.htmx:
        return render(request, "tasks_ui/session_detail.html#conversation", context)

    record = selectors.browser_session_get(team=team, session_id=session_id)
    profile_id = record.request.get("profileId") if record else None
    share = None
    if info and info.public_share_url:
        try:
            share = services.share_get(team=team, session_id=session_id)
        except services.SessionActionFailed as failure:
            messages.warning(request, failure.message)
    context.update(
        record=record,
        request_json=json.dumps(record.request, indent=2, ensure_ascii=False) if record else "",
        proxy_password_stored=bool(record and record.proxy_password),
        profile=account_services.profile_get(team=team, profile_id=profile_id) if profile_id else None,
        profile_id=profile_id,
        share=share,
        **_live_context(membership, info, live_url, status_poll=bool(live_url), error=error),
        recording_requested=selectors.recording_requested(team=team, session_id=session_id),
    )
    return render(request, "tasks_ui/session_detail.html", context)


def _live_context(
    membership: Membership, info, live_url, *, attempt: int = 0, status_attempt: int = 0, status_poll: bool = False,
    error: str = "",
) -> dict:
    """Context of the live-view partials. `attempt` counts the checks while the browser starts,
    `status_attempt` those of the status line below a shown live view."""
    active = bool(info and info.is_active)
    starting = active and not live_url and not error
    return {
        "session": info,
        "live_url": live_url if membership.can_launch else None,
        "may_watch": membership.can_launch,
        "can_launch": membership.can_launch,
        "live_error": error,
        "next_attempt": attempt + 1,
        "start_polling": membership.can_launch and starting and attempt < LIVE_START_MAX_ATTEMPTS,
        "start_gave_up": starting and attempt >= LIVE_START_MAX_ATTEMPTS,
        "start_interval": LIVE_START_INTERVAL_SECONDS,
        "next_status_attempt": status_attempt + 1,
        "status_polling": status_poll and active and status_attempt < LIVE_STATUS_MAX_ATTEMPTS,
        "status_gave_up": status_poll and active and status_attempt >= LIVE_STATUS_MAX_ATTEMPTS,
        "status_interval": LIVE_STATUS_INTERVAL_SECONDS,
    }


@require_GET
@never_cache
def session_live(request, session_id):
    """Render the live-view block: the framed live URL, a placeholder polled while the browser starts, or a notice."""
    membership = _membership(request)
    session_id = _owned(membership, session_id)
    info, live_url, error = None, None, ""
    if membership.can_launch:
        try:
            info, live_url = services.session_live(team=membership.team, session_id=session_id)
        except services.SessionActionFailed as failure:
            error = failure.message

    context = {
        "session_id": session_id,
        "recording_requested": bool(info and not info.is_active)
        and selectors.recording_requested(team=membership.team, session_id=session_id),
        **_live_context(membership, info, live_url, attempt=_attempt(request), status_poll=bool(live_url), error=error),
    }
    return render(request, "tasks_ui/session_live.html#live-block", context)


@require_GET
@never_cache
def session_live_status(request, session_id):
    """Render the line below a live view: idle or running a task, "Continue in this session", or stopped."""
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    try:
        info = services.session_get(team=membership.team, session_id=session_id)
    except services.SessionActionFailed as failure:
        return render(request, "tasks_ui/session_live.html#live-status", {"session_id": session_id, "live_error": failure.message})

    context = {
        "session_id": session_id,
        "replace_frame": not info.is_active,
        **_live_context(membership, info, None, status_attempt=_attempt(request), status_poll=True),
    }
    return render(request, "tasks_ui/session_live.html#live-status", context)


@require_GET
@never_cache
def session_live_open(request, session_id):
    """Open the live view in its own tab. The URL is fetched fresh and never written into a page."""
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    try:
        _, live_url = services.session_live(team=membership.team, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:session-detail", session_id=session_id)
    if not live_url:
        messages.info(request, "This session has no live view now: its browser is starting or it has stopped.")
        return redirect("tasks_ui:session-detail", session_id=session_id)
    return HttpResponseRedirect(live_url)


@require_GET
@never_cache
def session_recording(request, session_id):
    """Download the recording: its presigned URL expires, so it is fetched at each click."""
    membership = _membership(request)
    session_id = _owned(membership, session_id)
    try:
        url = services.session_recording_url(team=membership.team, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:session-detail", session_id=session_id)
    if not url:
        messages.info(request, "The recording is not available yet. It appears some time after the session stops.")
        return redirect("tasks_ui:session-detail", session_id=session_id)
    return HttpResponseRedirect(url)


@require_GET
@never_cache
def session_recording_status(request, session_id):
    """Render the recording link, which is polled for a bounded time after the session stopped."""
    membership = _membership(request)
    session_id = _owned(membership, session_id)
    attempt = _attempt(request)
    error, info = "", None
    try:
        info = services.session_get(team=membership.team, session_id=session_id)
    except services.SessionActionFailed as failure:
        error = failure.message
    context = {
        "session_id": session_id,
        "session": info,
        "recording_requested": True,
        "recording_error": error,
        "recording_attempt": attempt,
        "next_recording_attempt": attempt + 1,
        "recording_polling": bool(info and not info.has_recording and not info.is_active and attempt < RECORDING_MAX_ATTEMPTS),
        "recording_gave_up": bool(info and not info.has_recording and attempt >= RECORDING_MAX_ATTEMPTS),
        "recording_interval": RECORDING_INTERVAL_SECONDS,
    }
    return render(request, "tasks_ui/session_live.html#recording", context)


@require_POST
def session_stop(request, session_id):
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    try:
        services.session_stop(team=membership.team, user=request.user, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
    else:
        messages.success(request, "The session is stopped, together with any task that was running in it.")
    return _redirect_back(request, session_id)


@require_POST
def sessions_stop_idle(request):
    membership = _operator(request)
    try:
        result = services.sessions_stop_idle(team=membership.team, user=request.user)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:sessions")

    if result.stopped:
        messages.success(request, f"Stopped {len(result.stopped)} idle keep-alive session(s).")
    else:
        messages.info(request, "No idle keep-alive session was found to stop.")
    if result.busy:
        messages.info(request, f"{len(result.busy)} session(s) started a task meanwhile, so they were left running.")
    if result.failed:
        messages.error(request, f"{len(result.failed)} session(s) could not be stopped; try again.")
    return redirect("tasks_ui:sessions")


@require_http_methods(["GET", "POST"])
def session_delete(request, session_id):
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    if request.method == "GET":
        context = {
            "membership": membership,
            "session_id": session_id,
            "record": selectors.browser_session_get(team=membership.team, session_id=session_id),
            "runs": selectors.session_runs(team=membership.team, session_id=session_id),
        }
        return render(request, "tasks_ui/session_delete.html", context)

    try:
        run_count = services.session_delete(team=membership.team, user=request.user, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
        return redirect("tasks_ui:session-detail", session_id=session_id)
    messages.success(
        request,
        "The session and its tasks were deleted at Browser Use."
        + (f" The history keeps the {run_count} run(s) launched from here." if run_count else ""),
    )
    return redirect("tasks_ui:sessions")


@require_POST
def session_share(request, session_id):
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    try:
        services.share_create(team=membership.team, user=request.user, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
    else:
        messages.success(request, "Public share link created. Anyone with the link can watch this session, without an API key.")
    return redirect("tasks_ui:session-detail", session_id=session_id)


@require_POST
def session_share_revoke(request, session_id):
    membership = _operator(request)
    session_id = _owned(membership, session_id)
    try:
        services.share_delete(team=membership.team, user=request.user, session_id=session_id)
    except services.SessionActionFailed as failure:
        messages.error(request, failure.message)
    else:
        messages.success(request, "The public share link was revoked; it no longer opens the session.")
    return redirect("tasks_ui:session-detail", session_id=session_id)


@require_GET
def session_picker(request):
    """Render the compose form's session panel: the active sessions to pick from, and the chosen one's state and last task."""
    membership = _operator(request)
    team = membership.team
    try:
        active = services.sessions_list(team=team, status="active").sessions
        error = ""
    except services.SessionActionFailed as failure:
        active, error = [], failure.message

    chosen_id = selectors.parse_uuid(request.GET.get("session_id"))
    chosen, problem, previous = None, "", None
    if chosen_id is not None:
        problem = services.session_launch_problem(team=team, session_id=chosen_id) or ""
        if problem != services.NOT_OWNED_MESSAGE:
            chosen = next((info for info in active if info.id == str(chosen_id)), None)
            runs = selectors.session_runs(team=team, session_id=chosen_id)
            previous = runs[-1] if runs else None
    context = {
        "active_sessions": active,
        "chosen_id": str(chosen_id) if chosen_id else "",
        "chosen": chosen,
        "problem": problem,
        "previous": previous,
        "error": error,
    }
    return render(request, "tasks_ui/pickers.html#session-picker", context)
