"""The simulated Browser Use API v2: routing, authentication, validation and the JSON it returns.

`dispatch` serves both the in-process client transport and the HTTP endpoint at /sandbox/api/v2/, so
both see exactly the same behaviour. Answers follow the published v2 models and FastAPI's error shapes.
"""

import json
import logging
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pydantic
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from tasks_ui.client import SandboxReply

from . import faults, simulation
from .models import SandboxSession, SandboxTask
from .schemas import (
    CreateSessionRequest,
    CreateTaskRequest,
    PagedSearchQuery,
    SessionListQuery,
    TaskListQuery,
    UpdateSessionRequest,
    UpdateTaskRequest,
)

logger = logging.getLogger(__name__)

CONCURRENT_SESSION_LIMIT = 25
DOWNLOAD_LINK_SECONDS = 120
SESSION_STOPPED_MESSAGE = "Browser session is stopped. Please start a new session and try again."
SESSION_BUSY_MESSAGE = "Agent session already has a running task. Please wait for it to finish or stop it manually."
CAPACITY_MESSAGE = (
    "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan."
)


class HttpError(Exception):
    def __init__(self, status_code: int, detail, headers: dict | None = None):
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}


def _validation_detail(error: pydantic.ValidationError, prefix: str) -> list[dict]:
    items = json.loads(error.json(include_url=False))
    return [{**item, "loc": [prefix, *item["loc"]]} for item in items]


def _parse_body(model, body: bytes):
    if not body:
        raise HttpError(422, [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}])
    try:
        data = json.loads(body)
    except ValueError as error:
        raise HttpError(
            422,
            [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error", "input": {}, "ctx": {"error": str(error)}}],
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise HttpError(422, _validation_detail(error, "body"))


def _parse_query(model, query: dict):
    try:
        return model.model_validate(query)
    except pydantic.ValidationError as error:
        raise HttpError(422, _validation_detail(error, "query"))


def _parse_uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise HttpError(
            422,
            [
                {
                    "type": "uuid_parsing",
                    "loc": ["path", name],
                    "msg": "Input should be a valid UUID, invalid character: expected an optional prefix of "
                    "`urn:uuid:` followed by [0-9a-fA-F-], found `x` at 1",
                    "input": value,
                    "ctx": {"error": "invalid character"},
                }
            ],
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _absolute(url: str | None, origin: str) -> str | None:
    return f"{origin}{url}" if url and url.startswith("/") else url


def _cost(value: Decimal) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _task_item(task: SandboxTask) -> dict:
    request = task.request
    return {
        "id": str(task.id),
        "sessionId": str(task.session_id),
        "llm": request.get("llm") or "browser-use-2.0",
        "task": request["task"],
        "status": task.status,
        "createdAt": _iso(task.created_at),
        "startedAt": _iso(task.started_at),
        "finishedAt": _iso(task.finished_at),
        "metadata": request.get("metadata") or {},
        "output": task.output,
        "browserUseVersion": "0.9.7-sandbox",
        "isSuccess": task.is_success,
        "judgement": task.judgement,
        "judgeVerdict": task.judge_verdict,
        "cost": _cost(task.cost),
        "suggestions": [] if task.status in simulation.TERMINAL_STATUSES else None,
    }


def _task_view(task: SandboxTask, origin: str) -> dict:
    steps = [{**step, "screenshotUrl": _absolute(step.get("screenshotUrl"), origin)} for step in task.steps]
    return {**_task_item(task), "steps": steps, "outputFiles": task.output_files}


def _session_item(session: SandboxSession, origin: str) -> dict:
    active = session.status == "active"
    recording = session.settings.get("enableRecording") and not active
    return {
        "id": str(session.id),
        "status": session.status,
        "liveUrl": f"{origin}/sandbox/live/{session.id}/" if active else None,
        "startedAt": _iso(session.started_at),
        "finishedAt": _iso(session.finished_at),
        "keepAlive": session.keep_alive,
        "persistMemory": session.persist_memory,
        "proxyUsedMb": "0" if session.settings.get("proxyCountryCode") is None else "1.5",
        "proxyCost": "0" if session.settings.get("proxyCountryCode") is None else "0.0015",
        "recordingUrl": f"{origin}/sandbox/files/sessions/{session.id}/recording.mp4" if recording else None,
    }


def _get_task(task_id: str) -> SandboxTask:
    parsed = _parse_uuid(task_id, "task_id")
    task = SandboxTask.objects.select_related("session").filter(pk=parsed).first()
    if task is None:
        raise HttpError(404, "Task not found")
    return simulation.advance(task)


def _get_session(session_id: str, name: str = "session_id") -> SandboxSession:
    parsed = _parse_uuid(session_id, name)
    session = SandboxSession.objects.filter(pk=parsed).first()
    if session is None:
        raise HttpError(404, "Session not found")
    _advance_session(session)
    return session


def _advance_session(session: SandboxSession) -> None:
    for task in session.tasks.exclude(status__in=simulation.TERMINAL_STATUSES).select_related("session"):
        simulation.advance(task)
    session.refresh_from_db()


def _active_session_count() -> int:
    for task in SandboxTask.objects.exclude(status__in=simulation.TERMINAL_STATUSES).select_related("session"):
        simulation.advance(task)
    return SandboxSession.objects.filter(status="active").count()


def _paged(items: list, page_size: int, page_number: int, total: int) -> dict:
    return {"items": items, "totalItems": total, "pageNumber": page_number, "pageSize": page_size}


def _signed_download(kind: str, object_id: str, origin: str, name: str) -> str:
    token = signing.dumps({"kind": kind, "id": object_id}, salt="sandbox-download")
    return f"{origin}/sandbox/files/download/{token}/{name}"


# Handlers. Each takes (origin, query, body, **path parameters) and returns (status, body).


def create_task(origin, query, body):
    request = _parse_body(CreateTaskRequest, body)
    data = request.model_dump(mode="json", exclude_unset=True)
    now = timezone.now()
    with transaction.atomic():
        if request.sessionId:
            session = SandboxSession.objects.select_for_update().filter(pk=request.sessionId).first()
            if session is None:
                raise HttpError(404, "Session not found")
            _advance_session(session)
            if session.status != "active":
                raise HttpError(400, SESSION_STOPPED_MESSAGE)
            if session.tasks.exclude(status__in=simulation.TERMINAL_STATUSES).exists():
                raise HttpError(400, SESSION_BUSY_MESSAGE)
        else:
            if _active_session_count() >= CONCURRENT_SESSION_LIMIT:
                raise HttpError(429, CAPACITY_MESSAGE)
            session_settings = data.get("sessionSettings") or {"proxyCountryCode": "us"}
            session = SandboxSession.objects.create(
                one_off=True, keep_alive=False, settings=session_settings, started_at=now
            )
        task = simulation.create_task(request=data, session=session, now=now)
    return 202, {"id": str(task.id), "sessionId": str(session.id)}


def list_tasks(origin, query, body):
    params = _parse_query(TaskListQuery, query)
    tasks = SandboxTask.objects.select_related("session")
    if params.sessionId:
        tasks = tasks.filter(session_id=params.sessionId)
    if params.after:
        tasks = tasks.filter(created_at__gte=_parse_datetime(params.after, "after"))
    if params.before:
        tasks = tasks.filter(created_at__lte=_parse_datetime(params.before, "before"))
    for task in tasks.exclude(status__in=simulation.TERMINAL_STATUSES):
        simulation.advance(task)
    if params.filterBy:
        tasks = tasks.filter(status=params.filterBy)
    start = (params.pageNumber - 1) * params.pageSize
    page = list(tasks.order_by("-created_at")[start : start + params.pageSize])
    return 200, _paged([_task_item(task) for task in page], params.pageSize, params.pageNumber, tasks.count())


def _parse_datetime(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(
            422,
            [{"type": "datetime_from_date_parsing", "loc": ["query", name], "msg": "Input should be a valid datetime", "input": value}],
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def get_task(origin, query, body, task_id):
    return 200, _task_view(_get_task(task_id), origin)


def get_task_status(origin, query, body, task_id):
    task = _get_task(task_id)
    return 200, {
        "id": str(task.id),
        "status": task.status,
        "output": task.output if task.status in simulation.TERMINAL_STATUSES else None,
        "finishedAt": _iso(task.finished_at),
        "isSuccess": task.is_success,
        "cost": _cost(task.cost),
    }


def update_task(origin, query, body, task_id):
    task = _get_task(task_id)
    request = _parse_body(UpdateTaskRequest, body)
    simulation.stop(task, with_session=request.action == "stop_task_and_session")
    task.refresh_from_db()
    return 200, _task_view(task, origin)


def get_task_logs(origin, query, body, task_id):
    task = _get_task(task_id)
    return 200, {"downloadUrl": _signed_download("logs", str(task.id), origin, f"{task.id}.log")}


def get_output_file(origin, query, body, task_id, file_id):
    task = _get_task(task_id)
    wanted = str(_parse_uuid(file_id, "file_id"))
    match = next((item for item in task.output_files if item["id"] == wanted), None)
    if match is None:
        raise HttpError(404, "Output file not found")
    url = _signed_download("output", str(task.id), origin, match["fileName"])
    return 200, {"id": match["id"], "fileName": match["fileName"], "downloadUrl": url}


def create_session(origin, query, body):
    request = _parse_body(CreateSessionRequest, body)
    data = request.model_dump(mode="json", exclude_unset=True)
    if data.get("customProxy"):
        data["customProxy"].pop("password", None)
    with transaction.atomic():
        if _active_session_count() >= CONCURRENT_SESSION_LIMIT:
            raise HttpError(429, CAPACITY_MESSAGE)
        if request.profileId and str(request.profileId) not in {p["id"] for p in PROFILES}:
            raise HttpError(404, "Profile not found")
        session = SandboxSession.objects.create(
            keep_alive=request.keepAlive is not False,
            persist_memory=request.persistMemory is not False,
            settings={"proxyCountryCode": "us", **data},
            started_at=timezone.now(),
        )
    return 201, _session_item(session, origin)


def list_sessions(origin, query, body):
    params = _parse_query(SessionListQuery, query)
    _active_session_count()
    sessions = SandboxSession.objects.all()
    if params.filterBy:
        sessions = sessions.filter(status=params.filterBy)
    start = (params.pageNumber - 1) * params.pageSize
    page = sessions.order_by("-started_at")[start : start + params.pageSize]
    items = [_session_item(session, origin) for session in page]
    return 200, _paged(items, params.pageSize, params.pageNumber, sessions.count())


def get_session(origin, query, body, session_id):
    session = _get_session(session_id)
    tasks = [_task_item(task) for task in session.tasks.order_by("created_at").select_related("session")]
    share = f"{origin}/sandbox/share/{session.share_token}/" if session.share_token else None
    return 200, {**_session_item(session, origin), "tasks": tasks, "publicShareUrl": share}


def update_session(origin, query, body, session_id):
    session = _get_session(session_id)
    _parse_body(UpdateSessionRequest, body)
    simulation.stop_session(session)
    return get_session(origin, query, b"", session_id)


def delete_session(origin, query, body, session_id):
    _get_session(session_id).delete()
    return 204, None


PROFILES = [
    {"id": "5b0b1c43-6d0e-4b8a-9a61-3f1e2d7c8a01", "userId": "alice@example.com", "name": "Shop account",
     "cookieDomains": ["shop.example.com", ".example.com"]},
    {"id": "9c7e2b10-2f44-4d5e-8b9a-7d6c5b4a3f02", "userId": "support-bot", "name": "Support desk",
     "cookieDomains": ["help.example.org"]},
    {"id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a03", "userId": None, "name": None, "cookieDomains": None},
]


def _profile_view(profile: dict) -> dict:
    stamp = "2026-11-01T09:00:00Z"
    return {**profile, "lastUsedAt": None, "createdAt": stamp, "updatedAt": stamp}


def list_profiles(origin, query, body):
    params = _parse_query(PagedSearchQuery, query)
    needle = (params.query or "").lower()
    found = [p for p in PROFILES if not needle or needle in (p["name"] or "").lower() or needle in (p["userId"] or "").lower()]
    start = (params.pageNumber - 1) * params.pageSize
    items = [_profile_view(p) for p in found[start : start + params.pageSize]]
    return 200, _paged(items, params.pageSize, params.pageNumber, len(found))


def get_account(origin, query, body):
    return 200, {
        "name": "Sandbox project",
        "totalCreditsBalanceUsd": 25.0,
        "monthlyCreditsBalanceUsd": 20.0,
        "additionalCreditsBalanceUsd": 5.0,
        "rateLimit": CONCURRENT_SESSION_LIMIT,
        "concurrentSessionLimit": CONCURRENT_SESSION_LIMIT,
        "activeSessionCount": _active_session_count(),
        "planInfo": None,
        "isFreeTier": False,
        "projectId": "7d1c0e55-5a4d-4b0c-9e21-000000000001",
        "apiKeyId": None,
        "tracingDisabled": False,
    }


ROUTES = [
    ("POST", "/tasks", create_task),
    ("GET", "/tasks", list_tasks),
    ("GET", "/tasks/{task_id}", get_task),
    ("PATCH", "/tasks/{task_id}", update_task),
    ("GET", "/tasks/{task_id}/status", get_task_status),
    ("GET", "/tasks/{task_id}/logs", get_task_logs),
    ("GET", "/files/tasks/{task_id}/output-files/{file_id}", get_output_file),
    ("POST", "/sessions", create_session),
    ("GET", "/sessions", list_sessions),
    ("GET", "/sessions/{session_id}", get_session),
    ("PATCH", "/sessions/{session_id}", update_session),
    ("DELETE", "/sessions/{session_id}", delete_session),
    ("GET", "/profiles", list_profiles),
    ("GET", "/billing/account", get_account),
]


def _compile(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


COMPILED_ROUTES = [(method, template, _compile(template), handler) for method, template, handler in ROUTES]


def resolve(method: str, path: str):
    """Return (route template, handler, path parameters), or raise HttpError 404/405."""
    path = path.rstrip("/") or "/"
    allowed = False
    for route_method, template, pattern, handler in COMPILED_ROUTES:
        match = pattern.match(path)
        if match:
            if route_method == method:
                return f"{method} {template}", handler, match.groupdict()
            allowed = True
    if allowed:
        raise HttpError(405, "Method Not Allowed")
    raise HttpError(404, "Not Found")


def dispatch(*, method: str, path: str, query: dict, api_key: str, body: bytes, origin: str) -> SandboxReply:
    """Answer one API request the way the real v2 service would."""
    try:
        route, handler, params = resolve(method, path)
        if not api_key:
            raise HttpError(401, "X-Browser-Use-API-Key header is required")
        if api_key != settings.SANDBOX_API_KEY:
            raise HttpError(401, "Invalid API key")

        injected = faults.take(route)
        if injected and injected.kind != "lost":
            return faults.reply_for(injected.kind)
        status, payload = handler(origin, query, body, **params)
        if injected:
            # The request was carried out but its answer never arrives.
            return SandboxReply(fault="disconnect")
    except HttpError as error:
        return SandboxReply(status_code=error.status_code, body={"detail": error.detail}, headers=error.headers)
    return SandboxReply(status_code=status, body=payload, raw=b"" if status == 204 else None)
