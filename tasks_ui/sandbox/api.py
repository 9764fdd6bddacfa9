"""The simulated Browser Use API v2: routing, authentication, validation and injected faults.

`dispatch` serves both the in-process client transport and the HTTP endpoint at /sandbox/api/v2/, so
both see exactly the same behaviour. Responses follow the published v2 models and FastAPI's error shapes.
The handlers live in `handlers_tasks`, `handlers_sessions` and `handlers_account`.
"""

import logging
import re
from dataclasses import dataclass, field
from typing import Callable

import pydantic
from django.conf import settings

from tasks_ui.client import SandboxReply

from . import faults, handlers_account, handlers_sessions, handlers_tasks
from .schemas import (
    CreateSessionRequest,
    CreateTaskRequest,
    ProfileListQuery,
    SessionListQuery,
    SkillListQuery,
    TaskListQuery,
    UpdateSessionRequest,
    UpdateTaskRequest,
)
from .validation import HttpError, ValidationFailed, decode_json, parse_body, parse_path_id, parse_query

logger = logging.getLogger(__name__)

MISSING_KEY_MESSAGE = "X-Browser-Use-API-Key header is required"
INVALID_KEY_MESSAGE = "Invalid API key"


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable
    # Models for the query string and the JSON body; a route without one ignores that input.
    query: type[pydantic.BaseModel] | None = None
    body: type[pydantic.BaseModel] | None = None
    body_required: bool = True
    pattern: re.Pattern = field(init=False, compare=False)

    def __post_init__(self):
        # Every path parameter of the v2 API is a UUID; FastAPI matches any segment and validates it after.
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(regex))

    @property
    def name(self) -> str:
        """The route as faults name it, such as "GET /tasks/{task_id}"."""
        return f"{self.method} {self.template}"


ROUTES = [
    Route("POST", "/tasks", handlers_tasks.create_task, body=CreateTaskRequest),
    Route("GET", "/tasks", handlers_tasks.list_tasks, query=TaskListQuery),
    Route("GET", "/tasks/{task_id}", handlers_tasks.get_task),
    Route("PATCH", "/tasks/{task_id}", handlers_tasks.update_task, body=UpdateTaskRequest),
    Route("GET", "/tasks/{task_id}/status", handlers_tasks.get_task_status),
    Route("GET", "/tasks/{task_id}/logs", handlers_tasks.get_task_logs),
    Route("GET", "/files/tasks/{task_id}/output-files/{file_id}", handlers_tasks.get_output_file),
    # The body of POST /sessions is optional: without one the session takes every default.
    Route("POST", "/sessions", handlers_sessions.create_session, body=CreateSessionRequest, body_required=False),
    Route("GET", "/sessions", handlers_sessions.list_sessions, query=SessionListQuery),
    Route("GET", "/sessions/{session_id}", handlers_sessions.get_session),
    Route("PATCH", "/sessions/{session_id}", handlers_sessions.update_session, body=UpdateSessionRequest),
    Route("DELETE", "/sessions/{session_id}", handlers_sessions.delete_session),
    Route("GET", "/sessions/{session_id}/public-share", handlers_sessions.get_public_share),
    Route("POST", "/sessions/{session_id}/public-share", handlers_sessions.create_public_share),
    Route("DELETE", "/sessions/{session_id}/public-share", handlers_sessions.delete_public_share),
    Route("GET", "/profiles", handlers_account.list_profiles, query=ProfileListQuery),
    Route("GET", "/profiles/{profile_id}", handlers_account.get_profile),
    Route("GET", "/skills", handlers_account.list_skills, query=SkillListQuery),
    Route("GET", "/skills/{skill_id}", handlers_account.get_skill),
    Route("GET", "/billing/account", handlers_account.get_account),
]
ROUTE_NAMES = [route.name for route in ROUTES]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """Return the route for `method` and `path` with its raw path parameters, or raise HttpError 404/405."""
    path = path.rstrip("/") or "/"
    allowed = []
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match:
            if route.method == method:
                return route, match.groupdict()
            allowed.append(route.method)
    if allowed:
        raise HttpError(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
    raise HttpError(404, "Not Found")


def _authenticate(api_key: str) -> None:
    if not api_key:
        raise HttpError(401, MISSING_KEY_MESSAGE)
    if api_key != settings.SANDBOX_API_KEY:
        raise HttpError(401, INVALID_KEY_MESSAGE)


def _call(route: Route, params: dict[str, str], *, query: dict, body: bytes, origin: str):
    """Validate every input of the request like FastAPI, then run the route's handler."""
    # FastAPI rejects malformed JSON before it looks at any parameter.
    data = decode_json(body) if route.body and body else None

    errors: list[dict] = []
    ids, parsed_query, parsed_body = {}, None, None
    for name, value in params.items():
        try:
            ids[name] = parse_path_id(value, name)
        except ValidationFailed as error:
            errors += error.items
    if route.query:
        try:
            parsed_query = parse_query(route.query, query)
        except ValidationFailed as error:
            errors += error.items
    if route.body:
        try:
            parsed_body = parse_body(route.body, data, required=route.body_required)
        except ValidationFailed as error:
            errors += error.items
    if errors:
        raise HttpError(422, errors)

    return route.handler(origin, parsed_query, parsed_body, **ids)


def dispatch(*, method: str, path: str, query: dict, api_key: str, body: bytes, origin: str) -> SandboxReply:
    """Respond to one API request the way the real v2 service would, or with the fault injected for its route."""
    try:
        route, params = resolve(method, path)
        _authenticate(api_key)
    except HttpError as error:
        return SandboxReply(status_code=error.status_code, body={"detail": error.detail}, headers=error.headers)

    injected = faults.take(route.name)
    if injected and injected.kind != "lost":
        logger.info("Sandbox responds to %s with the injected fault %s", route.name, injected.kind)
        return faults.reply_for(injected.kind)

    try:
        status, payload = _call(route, params, query=query, body=body, origin=origin)
    except HttpError as error:
        reply = SandboxReply(status_code=error.status_code, body={"detail": error.detail}, headers=error.headers)
    else:
        reply = SandboxReply(status_code=status, body=payload, raw=b"" if status == 204 else None)

    if injected:
        # The "lost" fault: the request was carried out, but its response never arrives.
        logger.info("Sandbox carried out %s and drops the response (injected fault lost)", route.name)
        return SandboxReply(fault="disconnect")
    return reply
