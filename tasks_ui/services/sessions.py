"""Operations on browser sessions: list, create, stop, delete, share, and check one before a launch.

Each function calls the API through the team's client and returns plain data for the views. The views
check first that the session belongs to the team (see `tasks_ui.selectors.sessions`).

A session's live URL is interactive, because anyone who opens it controls the browser, so it is treated
like a credential. Only `session_live` returns it, and it is never stored, logged or put in `SessionInfo`.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.dateparse import parse_datetime

from tasks_ui import client as api
from tasks_ui.forms import PROXY_DEFAULT, PROXY_NONE
from tasks_ui.models import BrowserSession, Run, Team
from tasks_ui.selectors import sessions as selectors
from tasks_ui.services.audit import audit
from tasks_ui.services.teams import client_for_team

logger = logging.getLogger(__name__)

# GET /sessions returns at most 100 sessions a call; the list reads this many pages at most, newest first.
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 10
# Task statuses in which a task still occupies its session.
OPEN_TASK_STATUSES = frozenset({"created", "started"})
SANDBOX_LIVE_PATH = "/sandbox/live/"

STOPPED_MESSAGE = (
    "This session has stopped, so it cannot run another task. Choose an active session, or clear the "
    "field to run the task in a new one."
)
BUSY_MESSAGE = (
    "This session is still running a task, and a session runs one task at a time. Wait for that task to "
    "finish, or stop it, then launch again."
)
NOT_FOUND_MESSAGE = "The API has no session with this ID. Check the ID, or clear the field to run the task in a new session."
NOT_OWNED_MESSAGE = "No session with this ID belongs to this team. Choose one of the team's sessions, or clear the field."


class SessionActionFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SessionCreateFailed(Exception):
    """The API did not create the session. `error` gives the reason, with the 422 items for the form."""

    def __init__(self, error: api.ApiError):
        super().__init__(error.message)
        self.error = error


def _parse_time(value) -> datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) and value else None
    if parsed is None:
        return None
    # The API documents its timestamps as UTC; some come without an offset.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


@dataclass
class SessionInfo:
    """Display data of one session. The live and recording URLs are left out on purpose."""

    id: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    keep_alive: bool | None = None
    persist_memory: bool | None = None
    proxy_used_mb: Decimal | None = None
    proxy_cost: Decimal | None = None
    has_live_url: bool = False
    has_recording: bool = False
    public_share_url: str | None = None
    # The session's tasks oldest first, as GET /sessions/{id} lists them; None when read from the list.
    tasks: list[dict] | None = None
    record: BrowserSession | None = None
    runs: list[Run] = field(default_factory=list)

    @classmethod
    def from_view(cls, view: dict) -> "SessionInfo":
        tasks = view.get("tasks")
        return cls(
            id=str(view.get("id")),
            status=str(view.get("status") or "unknown"),
            started_at=_parse_time(view.get("startedAt")),
            finished_at=_parse_time(view.get("finishedAt")),
            keep_alive=view.get("keepAlive"),
            persist_memory=view.get("persistMemory"),
            proxy_used_mb=_parse_decimal(view.get("proxyUsedMb")),
            proxy_cost=_parse_decimal(view.get("proxyCost")),
            has_live_url=bool(view.get("liveUrl")),
            has_recording=bool(view.get("recordingUrl")),
            public_share_url=view.get("publicShareUrl"),
            tasks=None if tasks is None else [_task_entry(task) for task in tasks],
        )

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def busy(self) -> bool:
        """Tell whether a task still runs in the session: from its tasks when known, else from the team's runs."""
        if self.tasks is not None:
            return any(task["status"] in OPEN_TASK_STATUSES for task in self.tasks)
        return any(not run.is_settled for run in self.runs)

    @property
    def is_idle_keep_alive(self) -> bool:
        return self.is_active and bool(self.keep_alive) and not self.busy

    @property
    def name(self) -> str:
        return self.record.name if self.record else ""


def _task_entry(task: dict) -> dict:
    return {
        "id": str(task.get("id")),
        "task": task.get("task") or "",
        "status": str(task.get("status") or ""),
        "output": task.get("output"),
        "is_success": task.get("isSuccess"),
        "cost": _parse_decimal(task.get("cost")),
        "created_at": _parse_time(task.get("createdAt")),
        "finished_at": _parse_time(task.get("finishedAt")),
        "llm": task.get("llm"),
    }


@dataclass
class SessionListing:
    sessions: list[SessionInfo]
    # True when the project has more sessions than the pages read, so older ones may be missing.
    truncated: bool = False


def _log_api_error(action: str, session_id, error: api.ApiError) -> None:
    # Bodies stay out of the log: a 422 item may echo an input value, such as a proxy password.
    logger.warning("%s failed for session %s: %s, status %s", action, session_id, type(error).__name__, error.status_code)


def _attach_local(team: Team, sessions: list[SessionInfo]) -> None:
    ids = [info.id for info in sessions]
    records = selectors.browser_sessions_by_id(team=team, session_ids=ids)
    runs = selectors.runs_by_session(team=team, session_ids=ids)
    for info in sessions:
        info.record = records.get(info.id)
        info.runs = runs.get(info.id, [])


def sessions_list(*, team: Team, status: str | None = None, api_client=None) -> SessionListing:
    """Return the team's sessions, newest first, optionally only the active or stopped ones.

    `GET /sessions` lists every session of the API key's project, so the response is filtered down to the
    sessions this team owns. Raises SessionActionFailed when the API cannot be read.
    """
    owned = selectors.team_session_ids(team=team)
    if not owned:
        return SessionListing(sessions=[])

    client = api_client or client_for_team(team)
    found: list[SessionInfo] = []
    truncated = True
    try:
        for page in range(1, LIST_MAX_PAGES + 1):
            listing = client.list_sessions(pageSize=LIST_PAGE_SIZE, pageNumber=page, filterBy=status or None)
            items = listing.get("items") or []
            found += [SessionInfo.from_view(item) for item in items if str(item.get("id")) in owned]
            if not items or page * LIST_PAGE_SIZE >= (listing.get("totalItems") or 0) or len(found) >= len(owned):
                truncated = False
                break
    except api.ApiError as error:
        _log_api_error("Listing", "(all)", error)
        raise SessionActionFailed(f"The sessions could not be listed: {error.message}") from error

    _attach_local(team, found)
    return SessionListing(sessions=found, truncated=truncated)


def session_get(*, team: Team, session_id, api_client=None) -> SessionInfo:
    """Read one session with its tasks. Raises SessionActionFailed when the session cannot be read."""
    info, _ = _read(team, session_id, api_client)
    return info


def session_live(*, team: Team, session_id, api_client=None) -> tuple[SessionInfo, str | None]:
    """Read the session and return it with its live URL, or None while the browser starts or once it stopped.

    A URL outside the configured live-view origin is not returned, because the page could not frame it.
    """
    info, view = _read(team, session_id, api_client)
    url = view.get("liveUrl") if info.is_active else None
    if url and not live_url_allowed(url):
        logger.warning("Session %s has a live URL outside BROWSER_USE_LIVE_VIEW_ORIGIN; not shown", session_id)
        url = None
    return info, url


def session_recording_url(*, team: Team, session_id, api_client=None) -> str | None:
    _, view = _read(team, session_id, api_client)
    return view.get("recordingUrl") or None


def _read(team: Team, session_id, api_client) -> tuple[SessionInfo, dict]:
    try:
        view = (api_client or client_for_team(team)).get_session(str(session_id))
    except api.ApiNotFound as error:
        _log_api_error("Reading", session_id, error)
        raise SessionActionFailed("The API has no session with this ID any more; it may have been deleted.") from error
    except api.ApiError as error:
        _log_api_error("Reading", session_id, error)
        raise SessionActionFailed(f"The session could not be read: {error.message}") from error
    info = SessionInfo.from_view(view)
    _attach_local(team, [info])
    return info, view


def live_url_allowed(url: str) -> bool:
    """Tell whether the page may frame `url`: the sandbox's own live page, or the configured live-view origin."""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return parts.path.startswith(SANDBOX_LIVE_PATH)
    origin = urlsplit(settings.BROWSER_USE_LIVE_VIEW_ORIGIN)
    return parts.scheme == "https" and (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc)


def build_session_request(data: dict) -> dict:
    """Build the `POST /sessions` body from SessionForm.cleaned_data, leaving out what the API defaults."""
    body: dict = {}
    if data.get("profile_id"):
        body["profileId"] = str(data["profile_id"])

    proxy = data.get("proxy_country") or PROXY_DEFAULT
    if proxy == PROXY_NONE:
        body["proxyCountryCode"] = None
    elif proxy != PROXY_DEFAULT:
        body["proxyCountryCode"] = proxy

    if data.get("start_url"):
        body["startUrl"] = data["start_url"]
    if data.get("screen_width") and data.get("screen_height"):
        body["browserScreenWidth"] = data["screen_width"]
        body["browserScreenHeight"] = data["screen_height"]

    if not data.get("keep_alive"):
        body["keepAlive"] = False
    if not data.get("persist_memory"):
        body["persistMemory"] = False
    if data.get("enable_recording"):
        body["enableRecording"] = True

    if data.get("proxy_host"):
        proxy_body = {"host": data["proxy_host"], "port": data["proxy_port"]}
        if data.get("proxy_username"):
            proxy_body["username"] = data["proxy_username"]
        if data.get("proxy_password"):
            proxy_body["password"] = data["proxy_password"]
        if data.get("proxy_ignore_cert_errors"):
            proxy_body["ignoreCertErrors"] = True
        body["customProxy"] = proxy_body
    return body


def without_proxy_password(body: dict) -> dict:
    """Return a copy of a create-session body with the custom proxy's password removed."""
    if not body.get("customProxy"):
        return dict(body)
    proxy = {key: value for key, value in body["customProxy"].items() if key != "password"}
    return {**body, "customProxy": proxy}


def session_create(*, team: Team, user, name: str, body: dict, api_client=None) -> BrowserSession:
    """Create a session and record it for the team. Raises SessionCreateFailed when the API did not.

    The proxy password is sent to the API and kept encrypted in the record, never in its stored request.
    """
    try:
        view = (api_client or client_for_team(team)).create_session(body)
    except api.ApiError as error:
        _log_api_error("Creating", "(new)", error)
        raise SessionCreateFailed(error) from error

    record = BrowserSession.objects.create(
        session_id=view["id"],
        team=team,
        created_by=user,
        name=name,
        request=without_proxy_password(body),
        proxy_password=(body.get("customProxy") or {}).get("password") or "",
    )
    logger.info("Created session %s for team %s", record.session_id, team.pk)
    audit(team=team, actor=user, action="session.created", target=record.session_id, name=name)
    return record


def session_stop(*, team: Team, user, session_id, api_client=None) -> SessionInfo:
    """Stop the session and any task running in it. Safe to repeat: an already stopped session is fine."""
    client = api_client or client_for_team(team)
    try:
        view = client.update_session(str(session_id), "stop")
    except api.ApiError as error:
        _log_api_error("Stopping", session_id, error)
        info = _status_after_failure(team, session_id, client)
        if info is None or info.is_active:
            raise SessionActionFailed(f"Stopping the session failed: {error.message}") from error
        return info

    info = SessionInfo.from_view(view)
    _attach_local(team, [info])
    logger.info("Stopped session %s", session_id)
    audit(team=team, actor=user, action="session.stopped", target=session_id)
    return info


def _status_after_failure(team: Team, session_id, client) -> SessionInfo | None:
    try:
        return SessionInfo.from_view(client.get_session(str(session_id)))
    except api.ApiError:
        return None


@dataclass
class IdleStopResult:
    stopped: list[str] = field(default_factory=list)
    # Sessions that had started a task by the time they were checked, so they were left running.
    busy: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def sessions_stop_idle(*, team: Team, user, api_client=None) -> IdleStopResult:
    """Stop the team's active keep-alive sessions that run no task, which hold a concurrency slot for nothing.

    Each candidate is read again just before it is stopped, so a task launched meanwhile is not cut off.
    """
    client = api_client or client_for_team(team)
    result = IdleStopResult()
    for candidate in sessions_list(team=team, status="active", api_client=client).sessions:
        if not candidate.keep_alive:
            continue
        try:
            current = SessionInfo.from_view(client.get_session(candidate.id))
            if not current.is_active:
                continue
            if current.busy:
                result.busy.append(candidate.id)
                continue
            client.update_session(candidate.id, "stop")
        except api.ApiError as error:
            _log_api_error("Stopping idle", candidate.id, error)
            result.failed.append(candidate.id)
            continue
        result.stopped.append(candidate.id)

    if result.stopped:
        logger.info("Stopped %d idle sessions of team %s", len(result.stopped), team.pk)
        audit(team=team, actor=user, action="session.stopped_idle", target=f"{len(result.stopped)} sessions")
    return result


def session_delete(*, team: Team, user, session_id, api_client=None) -> int:
    """Delete the session and its tasks at the API, and the team's record of it. Returns how many runs it had.

    The team's runs stay in the history; those still open are marked stopped, because their tasks are gone.
    """
    try:
        (api_client or client_for_team(team)).delete_session(str(session_id))
    except api.ApiNotFound:
        logger.info("Session %s was already gone at the API when deleted", session_id)
    except api.ApiError as error:
        _log_api_error("Deleting", session_id, error)
        raise SessionActionFailed(f"Deleting the session failed: {error.message}") from error

    BrowserSession.objects.filter(team=team, session_id=session_id).delete()
    runs = Run.objects.filter(team=team, session_id=session_id)
    runs.filter(status__in=OPEN_TASK_STATUSES).update(
        status="stopped", error="Its session was deleted, together with the task, so its final state is unknown."
    )
    logger.info("Deleted session %s", session_id)
    audit(team=team, actor=user, action="session.deleted", target=session_id)
    return runs.count()


def share_get(*, team: Team, session_id, api_client=None) -> dict | None:
    """Return the session's public share (shareUrl, viewCount, lastViewedAt), or None when there is none."""
    try:
        share = (api_client or client_for_team(team)).get_public_share(str(session_id))
    except api.ApiNotFound:
        return None
    except api.ApiError as error:
        _log_api_error("Reading the share of", session_id, error)
        raise SessionActionFailed(f"The public share could not be read: {error.message}") from error
    return {**share, "lastViewedAt": _parse_time(share.get("lastViewedAt"))}


def share_create(*, team: Team, user, session_id, api_client=None) -> dict:
    try:
        share = (api_client or client_for_team(team)).create_public_share(str(session_id))
    except api.ApiError as error:
        _log_api_error("Sharing", session_id, error)
        raise SessionActionFailed(f"The public share could not be created: {error.message}") from error
    audit(team=team, actor=user, action="session.shared", target=session_id)
    return share


def share_delete(*, team: Team, user, session_id, api_client=None) -> None:
    try:
        (api_client or client_for_team(team)).delete_public_share(str(session_id))
    except api.ApiNotFound:
        logger.info("Session %s had no public share to revoke", session_id)
    except api.ApiError as error:
        _log_api_error("Revoking the share of", session_id, error)
        raise SessionActionFailed(f"The public share could not be revoked: {error.message}") from error
    audit(team=team, actor=user, action="session.share_revoked", target=session_id)


def session_launch_problem(*, team: Team, session_id, api_client=None) -> str | None:
    """Return why a task cannot start in this session now (stopped, busy, unknown), or None when it can.

    Teams on the deployment's shared key may use only their own sessions. A failed read returns None, so
    the launch itself reports the error.
    """
    if not team.api_key and not selectors.team_owns_session(team=team, session_id=session_id):
        return NOT_OWNED_MESSAGE
    try:
        info = SessionInfo.from_view((api_client or client_for_team(team)).get_session(str(session_id)))
    except api.ApiNotFound:
        return NOT_FOUND_MESSAGE
    except api.ApiError as error:
        _log_api_error("Checking", session_id, error)
        return None
    if not info.is_active:
        return STOPPED_MESSAGE
    if info.busy:
        return BUSY_MESSAGE
    return None


def launch_error_message(error: api.ApiBadRequest) -> str:
    """Return the message for a 400 from `POST /tasks` with a sessionId, for the session field."""
    text = error.message.lower()
    if "stopped" in text:
        return STOPPED_MESSAGE
    if "running task" in text:
        return BUSY_MESSAGE
    return f"The API rejected this session: {error.message}"
