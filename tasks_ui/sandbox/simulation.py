"""Progress of a simulated task: it starts shortly after it is created, takes one step every
SANDBOX_STEP_SECONDS and finishes after its planned steps or at maxSteps, whichever comes first.

State advances lazily: each read brings a task up to the current time and saves what changed, so the
simulation needs no background worker and gives the same result however often it is read.
"""

import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import SandboxSession, SandboxTask

TERMINAL_STATUSES = {"finished", "failed", "stopped"}
INIT_COST = Decimal("0.01")
# Per-step prices in USD, from the legacy docs' table where given, otherwise a round guess.
STEP_COST = {
    "browser-use-2.0": Decimal("0.006"),
    "browser-use-llm": Decimal("0.006"),
    "o3": Decimal("0.03"),
    "gemini-flash-latest": Decimal("0.0075"),
    "gemini-flash-lite-latest": Decimal("0.005"),
    "claude-sonnet-4-5-20250929": Decimal("0.05"),
}
DEFAULT_STEP_COST = Decimal("0.02")


def _step_seconds() -> float:
    return settings.SANDBOX_STEP_SECONDS


def _seed(task: SandboxTask) -> int:
    return int(hashlib.sha256(str(task.id).encode()).hexdigest()[:8], 16)


def planned_steps_for(task_text: str) -> int:
    """Return 3 to 5 steps, fixed by the task text so a repeated task behaves the same."""
    return 3 + int(hashlib.sha256(task_text.encode()).hexdigest()[:4], 16) % 3


UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def storable(value):
    """Return `value` with U+0000 and lone surrogates replaced by U+FFFD in every string it contains.

    The API schema allows both in any string, but PostgreSQL cannot store them in text or jsonb.
    """
    if isinstance(value, str):
        return UNSTORABLE_CHARACTERS.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def create_task(*, request: dict, session: SandboxSession, now: datetime) -> SandboxTask:
    """Store a new task; only the domains of its secrets are kept, never the credentials."""
    stored = {key: value for key, value in request.items() if key != "secrets"}
    if request.get("secrets"):
        stored["secrets"] = sorted(request["secrets"])
    stored = storable(stored)
    return SandboxTask.objects.create(
        session=session,
        request=stored,
        created_at=now,
        planned_steps=planned_steps_for(stored["task"]),
    )


def advance(task: SandboxTask, now: datetime | None = None) -> SandboxTask:
    """Bring `task` (and a one-off session whose task ended) up to `now`, saving any change."""
    if task.status in TERMINAL_STATUSES:
        return task
    now = now or timezone.now()
    step = timedelta(seconds=_step_seconds())
    start_at = task.created_at + step / 2
    if now < start_at:
        return task

    if task.status == "created":
        task.status = "started"
        task.started_at = start_at
    max_steps = task.request.get("maxSteps") or 100
    limit = min(task.planned_steps, max_steps)
    due = min(limit, int((now - task.started_at) / step))
    while len(task.steps) < due:
        task.steps.append(_make_step(task, len(task.steps) + 1))
    task.cost = INIT_COST + len(task.steps) * STEP_COST.get(task.request.get("llm") or "browser-use-2.0", DEFAULT_STEP_COST)
    if len(task.steps) >= limit:
        _finish(task, at=task.started_at + step * limit, reached_max_steps=limit < task.planned_steps)
    task.save()
    return task


def stop(task: SandboxTask, *, with_session: bool, now: datetime | None = None) -> SandboxTask:
    now = now or timezone.now()
    with transaction.atomic():
        advance(task, now)
        if task.status not in TERMINAL_STATUSES:
            task.status = "stopped"
            task.finished_at = now
            task.is_success = False
            task.save()
        if with_session or not task.session.keep_alive:
            stop_session(task.session, now=now)
    return task


def advance_session(session: SandboxSession, now: datetime | None = None) -> None:
    """Bring the open tasks of `session` up to `now`, then reload the session, which they may have closed."""
    for task in session.tasks.exclude(status__in=TERMINAL_STATUSES).select_related("session"):
        advance(task, now)
    session.refresh_from_db()


def active_session_count(now: datetime | None = None) -> int:
    """Return how many sessions are active once every open task is brought up to `now`."""
    for task in SandboxTask.objects.exclude(status__in=TERMINAL_STATUSES).select_related("session"):
        advance(task, now)
    return SandboxSession.objects.filter(status="active").count()


def stop_session(session: SandboxSession, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    for task in session.tasks.exclude(status__in=TERMINAL_STATUSES):
        advance(task, now)
        if task.status not in TERMINAL_STATUSES:
            task.status, task.finished_at, task.is_success = "stopped", now, False
            task.save()
    if session.status != "stopped":
        session.status = "stopped"
        session.finished_at = now
        session.save(update_fields=["status", "finished_at"])


def _finish(task: SandboxTask, *, at: datetime, reached_max_steps: bool) -> None:
    task.status = "finished"
    task.finished_at = at
    request = task.request
    if reached_max_steps:
        task.is_success = False
        task.output = f"Stopped after reaching the step limit of {request.get('maxSteps')} steps."
    else:
        task.is_success = True
        task.output = _make_output(task)
        task.output_files = [{"id": str(_file_id(task)), "fileName": "result.json"}]
    if request.get("judge"):
        task.judge_verdict = bool(task.is_success)
        task.judgement = json.dumps(
            {
                "reasoning": "The agent completed the task as asked."
                if task.is_success
                else "The agent ran out of steps before it completed the task.",
                "verdict": task.judge_verdict,
                "failure_reason": None if task.is_success else "step limit reached",
                "ground_truth": request.get("judgeGroundTruth"),
            }
        )
    # A session without keepAlive (every session that POST /tasks creates) closes when its task ends.
    if not task.session.keep_alive:
        task.session.status = "stopped"
        task.session.finished_at = at
        task.session.save(update_fields=["status", "finished_at"])


def _file_id(task: SandboxTask) -> uuid.UUID:
    return uuid.uuid5(task.id, "result.json")


def _make_step(task: SandboxTask, number: int) -> dict:
    start_url = task.request.get("startUrl") or "https://www.google.com"
    host = urlsplit(start_url).netloc or "www.google.com"
    goals = [
        f"Open {start_url} and look at the page",
        "Find the information the task asks for",
        "Scroll to see the rest of the results",
        "Collect the values into the answer",
        "Check the answer against the task and finish",
    ]
    actions = [
        {"go_to_url": {"url": start_url}},
        {"click_element_by_index": {"index": 7 + number}},
        {"scroll_down": {"amount": 600}},
        {"extract_structured_data": {"query": task.request["task"][:60]}},
        {"done": {"success": True}},
    ]
    index = min(number - 1, len(goals) - 1)
    if number == task.planned_steps:
        index = len(goals) - 1
    return {
        "number": number,
        "memory": f"Step {number} of the task on {host}.",
        "evaluationPreviousGoal": "Start" if number == 1 else "Success - the previous goal was reached.",
        "nextGoal": goals[index],
        "url": start_url if number == 1 else f"{start_url.rstrip('/')}/page-{number}",
        "screenshotUrl": f"/sandbox/files/tasks/{task.id}/steps/{number}.png",
        "actions": [json.dumps(actions[index])],
        "duration": round(_step_seconds() * (0.8 + (_seed(task) % 40) / 100), 2),
    }


def _make_output(task: SandboxTask) -> str:
    schema_text = task.request.get("structuredOutput")
    if schema_text:
        try:
            schema = json.loads(schema_text)
        except ValueError:
            schema = None
        if isinstance(schema, dict):
            return json.dumps(example_for_schema(schema, schema, _seed(task)))
    return f"Done. The simulated agent completed: {task.request['task'][:200]}"


def example_for_schema(node: dict, root: dict, seed: int, depth: int = 0, name: str = ""):
    """Build a value that validates against the JSON Schema `node` (enough of the keywords for task outputs)."""
    if depth > 8 or not isinstance(node, dict):
        return None
    if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return example_for_schema(target, root, seed, depth + 1, name)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][seed % len(node["enum"])]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if node.get(combinator):
            options = [option for option in node[combinator] if option.get("type") != "null"] or node[combinator]
            return example_for_schema(options[0], root, seed, depth + 1, name)

    kind = node.get("type", "object" if "properties" in node else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = node.get("properties", {})
        return {
            key: example_for_schema(sub, root, seed + i, depth + 1, key) for i, (key, sub) in enumerate(properties.items())
        }
    if kind == "array":
        count = max(node.get("minItems", 2), 1)
        count = min(count, node.get("maxItems", count))
        return [example_for_schema(node.get("items", {}), root, seed + i, depth + 1, name) for i in range(count)]
    if kind == "integer":
        low = node.get("minimum", 1)
        high = node.get("maximum", low + 100)
        return int(low + seed % max(int(high - low), 1))
    if kind == "number":
        low = node.get("minimum", 1)
        return round(min(low + (seed % 10_000) / 100, node.get("maximum", float("inf"))), 2)
    if kind == "boolean":
        return seed % 2 == 0
    if kind == "null":
        return None
    return _example_string(node, seed, name)


def _example_string(node: dict, seed: int, name: str) -> str:
    fmt = node.get("format")
    if fmt in ("uri", "url") or "url" in name.lower() or "link" in name.lower():
        return f"https://example.com/item/{seed % 1000}"
    if fmt == "email":
        return f"person{seed % 100}@example.com"
    if fmt == "date":
        return "2026-12-04"
    if fmt == "date-time":
        return "2026-12-04T12:00:00Z"
    label = node.get("title") or name.replace("_", " ") or "value"
    text = f"Sample {label} {seed % 100}"
    min_length, max_length = node.get("minLength", 0), node.get("maxLength")
    text = text.ljust(min_length, "x")
    return text[:max_length] if max_length else text
