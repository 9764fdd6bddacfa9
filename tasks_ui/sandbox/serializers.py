"""JSON views of the sandbox's records, field for field as the v2 response models (TaskView, SessionView…).

`origin` is the scheme and host that URLs in responses start with. It is empty for the in-process
transport, whose URLs are then relative to the dashboard.
"""

from datetime import datetime
from decimal import Decimal

from django.core import signing

from . import simulation
from .models import SandboxSession, SandboxTask

# Signed download links expire like the real presigned URLs; the API does not document their lifetime.
DOWNLOAD_LINK_SECONDS = 120
DOWNLOAD_SALT = "sandbox-download"
BROWSER_USE_VERSION = "0.9.7-sandbox"


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def absolute(url: str | None, origin: str) -> str | None:
    return f"{origin}{url}" if url and url.startswith("/") else url


def decimal_string(value: Decimal) -> str:
    """Format a USD amount as the API's decimal strings do, such as "0.034" (never an exponent)."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def paged(items: list, *, page_size: int, page_number: int, total: int) -> dict:
    return {"items": items, "totalItems": total, "pageNumber": page_number, "pageSize": page_size}


def page_of(records, *, page_size: int, page_number: int) -> tuple[list, int]:
    """Return the records of one page of a list or queryset, and the total count.

    A page past the end is empty; the API sets no upper bound on pageNumber, and an offset that large
    would overflow the database's integers.
    """
    total = records.count() if hasattr(records, "model") else len(records)
    start = (page_number - 1) * page_size
    if start >= total:
        return [], total
    return list(records[start : start + page_size]), total


def signed_download_url(kind: str, object_id: str, origin: str, name: str) -> str:
    token = signing.dumps({"kind": kind, "id": object_id}, salt=DOWNLOAD_SALT)
    return f"{origin}/sandbox/files/download/{token}/{name}"


def task_item(task: SandboxTask) -> dict:
    """TaskItemView: a row of GET /tasks and of SessionView.tasks."""
    request = task.request
    return {
        "id": str(task.id),
        "sessionId": str(task.session_id),
        "llm": request.get("llm") or "browser-use-2.0",
        "task": request["task"],
        "status": task.status,
        "createdAt": iso(task.created_at),
        "startedAt": iso(task.started_at),
        "finishedAt": iso(task.finished_at),
        "metadata": request.get("metadata") or {},
        "output": task.output,
        "browserUseVersion": BROWSER_USE_VERSION,
        "isSuccess": task.is_success,
        "judgement": task.judgement,
        "judgeVerdict": task.judge_verdict,
        "cost": decimal_string(task.cost),
        # The API fills suggestions when a task ends; the simulated agent never has any.
        "suggestions": [] if task.status in simulation.TERMINAL_STATUSES else None,
    }


def task_view(task: SandboxTask, origin: str) -> dict:
    """TaskView: GET /tasks/{task_id}, with steps and output files."""
    steps = [{**step, "screenshotUrl": absolute(step.get("screenshotUrl"), origin)} for step in task.steps]
    return {**task_item(task), "steps": steps, "outputFiles": task.output_files}


def task_status_view(task: SandboxTask) -> dict:
    return {
        "id": str(task.id),
        "status": task.status,
        "output": task.output if task.status in simulation.TERMINAL_STATUSES else None,
        "finishedAt": iso(task.finished_at),
        "isSuccess": task.is_success,
        "cost": decimal_string(task.cost),
    }


def session_item(session: SandboxSession, origin: str) -> dict:
    """SessionItemView: the response to POST /sessions and a row of GET /sessions."""
    active = session.status == "active"
    proxy = session.settings.get("proxyCountryCode") is not None or bool(session.settings.get("customProxy"))
    recording = session.settings.get("enableRecording") and not active
    return {
        "id": str(session.id),
        "status": session.status,
        "liveUrl": f"{origin}/sandbox/live/{session.id}/" if active else None,
        # NOTE: no recording file is simulated, so this URL returns 404.
        "recordingUrl": f"{origin}/sandbox/files/sessions/{session.id}/recording.mp4" if recording else None,
        "startedAt": iso(session.started_at),
        "finishedAt": iso(session.finished_at),
        "persistMemory": session.persist_memory,
        "keepAlive": session.keep_alive,
        "proxyUsedMb": "1.5" if proxy else "0",
        "proxyCost": "0.0015" if proxy else "0",
    }


def share_url(session: SandboxSession, origin: str) -> str | None:
    return f"{origin}/sandbox/share/{session.share_token}/" if session.share_token else None


def session_view(session: SandboxSession, origin: str) -> dict:
    """SessionView: GET /sessions/{session_id}, with the session's tasks oldest first."""
    tasks = session.tasks.order_by("created_at").select_related("session")
    return {
        **session_item(session, origin),
        "tasks": [task_item(task) for task in tasks],
        "publicShareUrl": share_url(session, origin),
    }


def share_view(session: SandboxSession, origin: str) -> dict:
    return {
        "shareToken": session.share_token,
        "shareUrl": share_url(session, origin),
        "viewCount": session.share_view_count,
        "lastViewedAt": iso(session.share_last_viewed_at),
    }
