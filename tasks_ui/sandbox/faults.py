"""Failures injected into the sandbox on demand, so tests and demos can see how the dashboard copes."""

from django.db import transaction
from django.db.models import F

from tasks_ui.client import SandboxReply

from .models import SandboxFault

RATE_LIMITED_BODY = {
    "error": "rate_limited",
    "message": "Too many requests. Please slow down.",
    "limit_rps": 25,
    "retry_after_seconds": 5,
}


def inject(route: str, kind: str, count: int = 1) -> SandboxFault:
    """Make the next `count` calls to `route` (such as "POST /tasks") fail with `kind`."""
    return SandboxFault.objects.create(route=route, kind=kind, remaining=count)


def clear() -> None:
    SandboxFault.objects.all().delete()


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
    match kind:
        case "401":
            return SandboxReply(401, {"detail": "Invalid API key"})
        case "402":
            return SandboxReply(402, {"detail": "Insufficient credits"})
        case "402_cap":
            detail = {
                "code": "api_key_monthly_spend_limit_reached",
                "message": "API key monthly spend limit reached",
                "cap": 50,
                "spent": 50.25,
            }
            return SandboxReply(402, {"detail": detail})
        case "404":
            return SandboxReply(404, {"detail": "Not Found"})
        case "422":
            item = {"type": "value_error", "loc": ["body", "task"], "msg": "Value error, injected validation failure", "input": None}
            return SandboxReply(422, {"detail": [item]})
        case "429_capacity":
            return SandboxReply(429, {"detail": "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan."})
        case "429_rate":
            return SandboxReply(429, RATE_LIMITED_BODY, headers={"Retry-After": "5"})
        case "429_edge":
            return SandboxReply(429, {"error": "rate_limited", "message": "Too many requests."}, headers={"Retry-After": "300"})
        case "500":
            return SandboxReply(500, {"detail": "An internal server error occurred"})
        case "502_json":
            return SandboxReply(502, {"status": "error", "code": 502, "message": "Application failed to respond"})
        case "502_html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
            return SandboxReply(502, raw=page, headers={"content-type": "text/html"})
        case "timeout":
            return SandboxReply(fault="timeout")
        case "disconnect":
            return SandboxReply(fault="disconnect")
        case "malformed":
            return SandboxReply(200, raw=b'{"id": "not closed')
    raise ValueError(f"Unknown sandbox fault kind {kind!r}")
