"""Failures injected into the sandbox on demand, so tests and demos can see how the dashboard copes.

A fault names a route ("POST /tasks") and a kind (see `SandboxFault.KINDS`); the next `count` calls to
that route get it instead of the simulated response. Inject them from Python with `inject`, from
the page at /sandbox/faults/, or over HTTP:

    curl -X POST http://127.0.0.1:8000/sandbox/faults/api/ -H "X-Browser-Use-API-Key: bu_sandbox" \
         -d '{"route": "POST /tasks", "kind": "500", "count": 1}'

`DELETE` on the same URL clears every pending fault.
"""

from django.db import transaction
from django.db.models import F

from tasks_ui.client import SandboxReply

from .models import SandboxFault

MAX_COUNT = 100
KIND_NAMES = [kind for kind, _label in SandboxFault.KINDS]

CAPACITY_BODY = {
    "detail": "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan."
}
SPEND_LIMIT_BODY = {
    "detail": {
        "code": "api_key_monthly_spend_limit_reached",
        "message": "API key monthly spend limit reached",
        "cap": 50,
        "spent": 50.25,
    }
}
# The project's request limiter sends Retry-After 5 with this body; the edge limiter sends 300 and no limit_rps.
RATE_LIMITED_BODY = {
    "error": "rate_limited",
    "message": "Too many requests. Please slow down.",
    "limit_rps": 25,
    "retry_after_seconds": 5,
}
EDGE_RATE_LIMITED_BODY = {"error": "rate_limited", "message": "Too many requests."}
INJECTED_VALIDATION_ITEM = {
    "type": "value_error",
    "loc": ["body", "task"],
    "msg": "Value error, injected validation failure",
    "input": None,
}
BAD_GATEWAY_BODY = {"status": "error", "code": 502, "message": "Application failed to respond"}
BAD_GATEWAY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>"
)


class InvalidFault(ValueError):
    """A fault request names an unknown route or kind, or a count out of range, as the message states."""


def route_names() -> list[str]:
    # Imported here because api.py imports this module to apply faults.
    from .api import ROUTE_NAMES

    return ROUTE_NAMES


def validate(route, kind, count) -> tuple[str, str, int]:
    """Return (route, kind, count) checked and normalised, or raise InvalidFault."""
    routes = route_names()
    if not isinstance(route, str) or not route.strip():
        raise InvalidFault(f'Missing route: give one such as "POST /tasks". Routes: {", ".join(routes)}.')
    method, _, template = route.strip().partition(" ")
    normalised = f"{method.upper()} {template.strip()}"
    if normalised not in routes:
        raise InvalidFault(f"Unknown route {route!r}. Use one of: {', '.join(routes)}.")
    if not isinstance(kind, str) or kind not in KIND_NAMES:
        raise InvalidFault(f"Unknown fault kind {kind!r}. Use one of: {', '.join(KIND_NAMES)}.")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidFault(f"Invalid count {count!r}: give a whole number from 1 to {MAX_COUNT}.")
    return normalised, kind, count


def inject(route: str, kind: str, count: int = 1) -> SandboxFault:
    """Make the next `count` calls to `route` (such as "POST /tasks") fail with `kind`."""
    route, kind, count = validate(route, kind, count)
    return SandboxFault.objects.create(route=route, kind=kind, remaining=count)


def pending() -> list[SandboxFault]:
    return list(SandboxFault.objects.filter(remaining__gt=0).order_by("created_at", "pk"))


def clear() -> int:
    """Delete every pending fault and return how many there were."""
    deleted, _ = SandboxFault.objects.all().delete()
    return deleted


def take(route: str) -> SandboxFault | None:
    """Use up one pending fault for `route`, oldest first, and return it."""
    with transaction.atomic():
        fault = SandboxFault.objects.select_for_update().filter(route=route, remaining__gt=0).first()
        if fault is None:
            return None
        SandboxFault.objects.filter(pk=fault.pk).update(remaining=F("remaining") - 1)
        SandboxFault.objects.filter(pk=fault.pk, remaining=0).delete()
    return fault


def reply_for(kind: str) -> SandboxReply:
    """Return the response for an injected fault. "lost" has none, because dispatch carries that request out."""
    match kind:
        case "401":
            return SandboxReply(401, {"detail": "Invalid API key"})
        case "402":
            return SandboxReply(402, {"detail": "Insufficient credits"})
        case "402_cap":
            return SandboxReply(402, SPEND_LIMIT_BODY)
        case "404":
            return SandboxReply(404, {"detail": "Not Found"})
        case "422":
            return SandboxReply(422, {"detail": [INJECTED_VALIDATION_ITEM]})
        case "429_capacity":
            return SandboxReply(429, CAPACITY_BODY)
        case "429_rate":
            return SandboxReply(429, RATE_LIMITED_BODY, headers={"Retry-After": "5"})
        case "429_edge":
            return SandboxReply(429, EDGE_RATE_LIMITED_BODY, headers={"Retry-After": "300"})
        case "500":
            return SandboxReply(500, {"detail": "An internal server error occurred"})
        case "502_json":
            return SandboxReply(502, BAD_GATEWAY_BODY)
        case "502_html":
            return SandboxReply(502, raw=BAD_GATEWAY_PAGE, headers={"content-type": "text/html"})
        case "timeout":
            return SandboxReply(fault="timeout")
        case "disconnect":
            return SandboxReply(fault="disconnect")
        case "malformed":
            return SandboxReply(200, raw=b'{"id": "not closed')
    raise InvalidFault(f"Unknown sandbox fault kind {kind!r}. Use one of: {', '.join(KIND_NAMES)}.")
