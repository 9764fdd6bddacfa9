"""Handlers for /tasks and task output files: create, list, read, poll, stop, logs and downloads.

Each handler takes (origin, query, body, **path ids) with the inputs already validated, and returns
(status, JSON body). See `api.ROUTES` for which models they receive.
"""

from uuid import UUID

from django.db import transaction
from django.utils import timezone

from . import serializers, simulation
from .handlers_sessions import check_capacity, check_profile, get_session_or_404
from .models import SandboxSession, SandboxTask
from .schemas import CreateTaskRequest, TaskListQuery, TaskUpdateAction, UpdateTaskRequest
from .validation import HttpError, as_utc

SESSION_STOPPED_MESSAGE = "Browser session is stopped. Please start a new session and try again."
SESSION_BUSY_MESSAGE = "Agent session already has a running task. Please wait for it to finish or stop it manually."


def get_task_or_404(task_id: UUID) -> SandboxTask:
    task = SandboxTask.objects.select_related("session").filter(pk=task_id).first()
    if task is None:
        raise HttpError(404, "Task not found")
    return simulation.advance(task)


def create_task(origin, query, body: CreateTaskRequest):
    data = body.model_dump(mode="json", exclude_unset=True)
    now = timezone.now()
    with transaction.atomic():
        if body.sessionId:
            # sessionSettings is ignored for an existing session, as the API documents.
            session = get_session_or_404(body.sessionId, for_update=True)
            if session.status != "active":
                raise HttpError(400, SESSION_STOPPED_MESSAGE)
            if session.tasks.exclude(status__in=simulation.TERMINAL_STATUSES).exists():
                raise HttpError(400, SESSION_BUSY_MESSAGE)
        else:
            # Without sessionSettings the new session gets a US proxy; with them, only the proxy they name.
            session_settings = data.get("sessionSettings") or {"proxyCountryCode": "us"}
            check_profile(body.sessionSettings.profileId if body.sessionSettings else None)
            check_capacity()
            session = SandboxSession.objects.create(
                one_off=True, keep_alive=False, settings=simulation.storable(session_settings), started_at=now
            )
        task = simulation.create_task(request=data, session=session, now=now)
    return 202, {"id": str(task.id), "sessionId": str(session.id)}


def list_tasks(origin, query: TaskListQuery, body):
    tasks = SandboxTask.objects.select_related("session")
    if query.sessionId:
        tasks = tasks.filter(session_id=query.sessionId)
    if query.after:
        tasks = tasks.filter(created_at__gte=as_utc(query.after))
    if query.before:
        tasks = tasks.filter(created_at__lte=as_utc(query.before))
    # Bring open tasks up to date first, so that filterBy matches their current status.
    for task in tasks.exclude(status__in=simulation.TERMINAL_STATUSES):
        simulation.advance(task)
    if query.filterBy:
        tasks = tasks.filter(status=query.filterBy)
    page, total = serializers.page_of(tasks.order_by("-created_at"), page_size=query.pageSize, page_number=query.pageNumber)
    items = [serializers.task_item(task) for task in page]
    return 200, serializers.paged(items, page_size=query.pageSize, page_number=query.pageNumber, total=total)


def get_task(origin, query, body, task_id: UUID):
    return 200, serializers.task_view(get_task_or_404(task_id), origin)


def get_task_status(origin, query, body, task_id: UUID):
    return 200, serializers.task_status_view(get_task_or_404(task_id))


def update_task(origin, query, body: UpdateTaskRequest, task_id: UUID):
    # Stopping a task that already ended changes nothing and still returns 200 with the task.
    task = get_task_or_404(task_id)
    simulation.stop(task, with_session=body.action == TaskUpdateAction.STOP_TASK_AND_SESSION)
    task.refresh_from_db()
    return 200, serializers.task_view(task, origin)


def get_task_logs(origin, query, body, task_id: UUID):
    task = get_task_or_404(task_id)
    return 200, {"downloadUrl": serializers.signed_download_url("logs", str(task.id), origin, f"{task.id}.log")}


def get_output_file(origin, query, body, task_id: UUID, file_id: UUID):
    task = get_task_or_404(task_id)
    match = next((item for item in task.output_files if item["id"] == str(file_id)), None)
    if match is None:
        raise HttpError(404, "Output file not found")
    url = serializers.signed_download_url("output", str(task.id), origin, match["fileName"])
    return 200, {"id": match["id"], "fileName": match["fileName"], "downloadUrl": url}
