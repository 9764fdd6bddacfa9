"""HTTP client for the Browser Use Cloud API v2, and the only module that imports httpx.

Every call returns the decoded JSON body, or raises one of the `ApiError` subclasses below with a plain
message. Nothing here retries: `POST /tasks` must never be repeated blindly because a lost response may
still have started a billed task, and callers decide how to recover from the other errors.
"""

import json
import logging
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL = "http://sandbox/api/v2"
USER_AGENT = "browser-use-dashboard/0.1"


class ApiError(Exception):
    """A call to the API failed. `message` is fit to show to the user."""

    # True when the request may have reached the API and been acted on: the caller cannot tell
    # whether a create call started a task.
    outcome_unknown = False

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body


class ApiAuthError(ApiError):
    """401 or 403: the key is missing, wrong or lacks the permission."""


class ApiPaymentError(ApiError):
    """402: no credits left, or the key's monthly spend cap is reached (then `cap` and `spent` are set)."""

    def __init__(self, message: str, *, cap: float | None = None, spent: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.cap = cap
        self.spent = spent


class ApiNotFound(ApiError):
    """404. `route_missing` is True for an unknown route (wrong base URL), False for an unknown id."""

    def __init__(self, message: str, *, route_missing: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.route_missing = route_missing


class ApiBadRequest(ApiError):
    """400, such as a task sent to a stopped session or to one that is already running a task."""


class ApiValidationError(ApiError):
    """422. `errors` contains FastAPI-style items with `loc` and `msg`."""

    def __init__(self, message: str, *, errors: list[dict], **kwargs):
        super().__init__(message, **kwargs)
        self.errors = errors


class ApiRateLimited(ApiError):
    """429. `capacity` is True when all concurrent sessions are busy, False for the request rate limit."""

    def __init__(self, message: str, *, capacity: bool, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.capacity = capacity
        self.retry_after = retry_after


class ApiServerError(ApiError):
    """5xx, or a success status with a body that is not the expected JSON."""

    outcome_unknown = True


class ApiUnreachable(ApiError):
    """The request timed out or the connection failed, so no response arrived."""

    outcome_unknown = True


@dataclass
class SandboxReply:
    """Response of the in-process sandbox to one request; `fault` names a simulated transport failure."""

    status_code: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    fault: str = ""


class SandboxTransport(httpx.BaseTransport):
    """Route requests to the built-in sandbox in this process instead of the network."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        from tasks_ui.sandbox.api import dispatch

        path = request.url.path.removeprefix("/api/v2")
        reply: SandboxReply = dispatch(
            method=request.method,
            path=path,
            query=dict(request.url.params.multi_items()),
            api_key=request.headers.get("X-Browser-Use-API-Key", ""),
            body=request.read(),
            origin="",
        )
        if reply.fault == "timeout":
            raise httpx.ReadTimeout("simulated read timeout", request=request)
        if reply.fault == "disconnect":
            raise httpx.RemoteProtocolError("simulated dropped connection", request=request)
        content = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
        headers = {"content-type": "application/json", **reply.headers}
        return httpx.Response(reply.status_code, headers=headers, content=content, request=request)


@cache
def _http_client(api_key: str, base_url: str) -> httpx.Client:
    # One pooled client per key and base URL, shared by all threads of the process.
    sandbox = not api_key
    return httpx.Client(
        base_url=SANDBOX_BASE_URL if sandbox else base_url.rstrip("/"),
        headers={
            "X-Browser-Use-API-Key": settings.SANDBOX_API_KEY if sandbox else api_key,
            "User-Agent": USER_AGENT,
        },
        timeout=httpx.Timeout(
            settings.BROWSER_USE_TIMEOUT_SECONDS, connect=settings.BROWSER_USE_CONNECT_TIMEOUT_SECONDS
        ),
        transport=SandboxTransport() if sandbox else None,
        follow_redirects=False,
    )


def _message_from_body(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        detail = body.get("detail", body.get("message"))
        if isinstance(detail, str) and detail:
            return detail
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return detail["message"]
    return fallback


def _retry_after_seconds(response: httpx.Response, body: Any) -> float | None:
    header = response.headers.get("Retry-After", "")
    if header.strip().isdigit():
        return float(header)
    if isinstance(body, dict) and isinstance(body.get("retry_after_seconds"), (int, float)):
        return float(body["retry_after_seconds"])
    return None


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None

    if status in (401, 403):
        message = _message_from_body(body, "")
        raise ApiAuthError(
            "The Browser Use API rejected the API key"
            + (f": {message}" if message else ".")
            + " Check the key in the settings.",
            status_code=status,
            body=body,
        )
    if status == 402:
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, dict) and detail.get("code") == "api_key_monthly_spend_limit_reached":
            cap, spent = detail.get("cap"), detail.get("spent")
            raise ApiPaymentError(
                f"This API key reached its monthly spend limit (cap ${cap}, spent ${spent}). "
                "Raise the limit or use another key.",
                cap=cap,
                spent=spent,
                status_code=status,
                body=body,
            )
        raise ApiPaymentError(
            f"{_message_from_body(body, 'Payment required')}. Add credits to the Browser Use project.",
            status_code=status,
            body=body,
        )
    if status == 404:
        message = _message_from_body(body, "Not Found")
        if message == "Not Found":
            raise ApiNotFound(
                "The API has no such route. Check the base URL (it should end in /api/v2).",
                route_missing=True,
                status_code=status,
                body=body,
            )
        raise ApiNotFound(message, status_code=status, body=body)
    if status == 400:
        raise ApiBadRequest(_message_from_body(body, "The API rejected the request."), status_code=status, body=body)
    if status == 422:
        detail = body.get("detail") if isinstance(body, dict) else None
        errors = detail if isinstance(detail, list) else []
        raise ApiValidationError(
            _message_from_body(body, "The API rejected some fields of the request."),
            errors=[item for item in errors if isinstance(item, dict)],
            status_code=status,
            body=body,
        )
    if status == 429:
        retry_after = _retry_after_seconds(response, body)
        capacity = not (isinstance(body, dict) and body.get("error") == "rate_limited") and retry_after is None
        if capacity:
            message = "All concurrent browser sessions of this project are busy. Wait for one to finish or stop one."
        else:
            wait = f"{retry_after:g} seconds" if retry_after is not None else "a moment"
            message = f"Too many requests to the Browser Use API. Try again in {wait}."
        raise ApiRateLimited(message, capacity=capacity, retry_after=retry_after, status_code=status, body=body)
    if status >= 500:
        raise ApiServerError(
            f"The Browser Use API failed with status {status}"
            + (f": {_message_from_body(body, '')}" if _message_from_body(body, "") else ".")
            + " Try again later.",
            status_code=status,
            body=body,
        )
    raise ApiError(f"The Browser Use API responded with unexpected status {status}.", status_code=status, body=body)


class BrowserUseClient:
    """The v2 endpoints the dashboard calls. Construct with `get_client()`."""

    def __init__(self, http: httpx.Client):
        self.http = http

    def _request(self, method: str, path: str, *, params: dict | None = None, json_body: Any = None) -> Any:
        try:
            response = self.http.request(method, path, params=params, json=json_body)
        except httpx.TimeoutException as error:
            raise ApiUnreachable("The Browser Use API did not respond in time.") from error
        except httpx.TransportError as error:
            raise ApiUnreachable("The connection to the Browser Use API failed.") from error

        if not response.is_success:
            _raise_for_status(response)
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiServerError(
                "The Browser Use API sent a response that is not valid JSON.", status_code=response.status_code
            ) from error

    # Reference: https://docs.browser-use.com/api-reference/api-v2/tasks
    def create_task(self, body: dict) -> dict:
        return self._request("POST", "/tasks", json_body=body)

    def list_tasks(self, **params: Any) -> dict:
        return self._request("GET", "/tasks", params={k: v for k, v in params.items() if v is not None})

    def get_task(self, task_id: str) -> dict:
        return self._request("GET", f"/tasks/{task_id}")

    def get_task_status(self, task_id: str) -> dict:
        return self._request("GET", f"/tasks/{task_id}/status")

    def update_task(self, task_id: str, action: str) -> dict:
        return self._request("PATCH", f"/tasks/{task_id}", json_body={"action": action})

    def get_task_logs(self, task_id: str) -> dict:
        return self._request("GET", f"/tasks/{task_id}/logs")

    def get_output_file(self, task_id: str, file_id: str) -> dict:
        return self._request("GET", f"/files/tasks/{task_id}/output-files/{file_id}")

    # Reference: https://docs.browser-use.com/api-reference/api-v2/sessions
    def create_session(self, body: dict) -> dict:
        return self._request("POST", "/sessions", json_body=body)

    def list_sessions(self, **params: Any) -> dict:
        return self._request("GET", "/sessions", params={k: v for k, v in params.items() if v is not None})

    def get_session(self, session_id: str) -> dict:
        return self._request("GET", f"/sessions/{session_id}")

    def update_session(self, session_id: str, action: str = "stop") -> dict:
        return self._request("PATCH", f"/sessions/{session_id}", json_body={"action": action})

    def delete_session(self, session_id: str) -> None:
        """Delete the session and, at the API, every task that ran in it."""
        return self._request("DELETE", f"/sessions/{session_id}")

    def get_public_share(self, session_id: str) -> dict:
        return self._request("GET", f"/sessions/{session_id}/public-share")

    def create_public_share(self, session_id: str) -> dict:
        """Create the session's public share link, or return the existing one."""
        return self._request("POST", f"/sessions/{session_id}/public-share")

    def delete_public_share(self, session_id: str) -> None:
        return self._request("DELETE", f"/sessions/{session_id}/public-share")

    def list_profiles(self, **params: Any) -> dict:
        return self._request("GET", "/profiles", params={k: v for k, v in params.items() if v is not None})

    def get_profile(self, profile_id: str) -> dict:
        return self._request("GET", f"/profiles/{profile_id}")

    def list_skills(self, **params: Any) -> dict:
        return self._request("GET", "/skills", params={k: v for k, v in params.items() if v is not None})

    def get_skill(self, skill_id: str) -> dict:
        return self._request("GET", f"/skills/{skill_id}")

    def get_account(self) -> dict:
        return self._request("GET", "/billing/account")


def get_client(*, api_key: str | None = None, base_url: str | None = None) -> BrowserUseClient:
    """Return a client for the given key, or for the deployment's key; no key at all selects the sandbox."""
    key = settings.BROWSER_USE_API_KEY if api_key is None else api_key
    return BrowserUseClient(_http_client(key, base_url or settings.BROWSER_USE_BASE_URL))


def sandbox_mode() -> bool:
    return not settings.BROWSER_USE_API_KEY
