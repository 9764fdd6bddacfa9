"""Operations on runs: launch, refresh, stop and downloads. Each takes plain values, calls the API
through `client`, applies the rules and stores the outcome.

Runs change with filtered `UPDATE`s rather than `save()`, so two requests working on the same run (two
tabs, or a stop during a refresh) never write back each other's stale fields.
"""

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tasks_ui import client as api
from tasks_ui.forms import RUN_ID_METADATA_KEY
from tasks_ui.models import LAUNCHING, NOT_STARTED, REJECTED, TERMINAL_STATUSES, UNKNOWN, Run, Team
from tasks_ui.payloads import mask_secrets, with_run_id
from tasks_ui.services.audit import audit
from tasks_ui.services.teams import client_for_team

logger = logging.getLogger(__name__)

# A run still "launching" after this long was cut off between writing its record and storing the response.
LAUNCH_GRACE = timedelta(seconds=60)
# Tasks created this long before a run's launch time are still searched when finding it by its run id,
# to allow for clock differences between this server and the API.
RECONCILE_CLOCK_SKEW = timedelta(minutes=5)
RECONCILE_MAX_PAGES = 5
# A task shows up in the API's task list as soon as it is created, so a run whose task is still missing
# this long after its launch was not started.
RECONCILE_GIVE_UP = timedelta(seconds=60)
MAX_BACKOFF_FACTOR = 32


class LaunchFailed(Exception):
    """The API did not start the task, or the outcome is unknown. `run` records what happened."""

    def __init__(self, run: Run, error: api.ApiError):
        super().__init__(error.message)
        self.run = run
        self.error = error


class LaunchDeferred(Exception):
    """Nothing was sent because the API asked to wait (Retry-After) and the wait is not over."""

    def __init__(self, wait_seconds: float):
        self.wait_seconds = wait_seconds
        super().__init__(
            f"The Browser Use API asked the dashboard to slow down. Try again in {max(1, round(wait_seconds))} seconds; "
            "nothing was sent."
        )
        self.message = str(self)


class RunActionFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _update(run: Run, **fields) -> None:
    # The API sends ids as strings; keep them UUIDs in memory as they are when read from the database.
    for name in ("task_id", "session_id"):
        if isinstance(fields.get(name), str):
            fields[name] = uuid.UUID(fields[name])
    for name, value in fields.items():
        setattr(run, name, value)
    Run.objects.filter(pk=run.pk).update(**fields)


def _parse_time(value) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    # The API documents its timestamps as naive UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_cost(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _log_api_error(action: str, run: Run, error: api.ApiError) -> None:
    # Messages and bodies stay out of the log: a 422 item may echo an input value, such as a secret.
    logger.warning(
        "%s failed for run %s (task %s): %s, status %s",
        action, run.pk, run.task_id, type(error).__name__, error.status_code,
    )


def run_launch(
    *, team: Team, user, body: dict, secrets: dict[str, str], api_client=None, template=None
) -> Run:
    """Record a run, then create its task. Raises LaunchFailed with the stored run when no task started.

    The record is committed before the call, so a crash during the call leaves a run in "launching"
    that the next refresh treats as an unknown outcome. The call itself is never retried here.
    """
    if wait := team_rate_limit_wait(team):
        raise LaunchDeferred(wait)
    run = run_record(team=team, user=user, body=body, secrets=secrets, template=template)
    return run_send(run=run, body=body, secrets=secrets, api_client=api_client)


def _rate_limit_key(team: Team) -> str:
    return f"browser-use:rate-limited-until:{team.pk}"


def team_rate_limit_wait(team: Team) -> float:
    """Return the seconds left of the team's last Retry-After from the API, or 0."""
    until = cache.get(_rate_limit_key(team))
    return max(0.0, until - time.time()) if until else 0.0


def _remember_rate_limit(team: Team, error: api.ApiError) -> None:
    if isinstance(error, api.ApiRateLimited) and not error.capacity and error.retry_after:
        # NOTE: with the default per-process cache each web process learns the limit on its own; configure a
        # shared cache (CACHES) for deployments with many processes.
        cache.set(_rate_limit_key(team), time.time() + error.retry_after, timeout=int(error.retry_after) + 1)


def run_record(*, team: Team, user, body: dict, secrets: dict[str, str], template=None) -> Run:
    """Write the record of a launch that `run_send` then makes: the first half of `run_launch`.

    A caller that must tie its own record to the run in the same transaction, such as a batch row
    claimed by the worker, calls the two halves itself.
    """
    run_id = uuid.uuid4()
    # The stored request is the body exactly as sent, run id included, with the credentials masked.
    sent = with_run_id({**body, **({"secrets": secrets} if secrets else {})}, str(run_id))
    return Run.objects.create(
        id=run_id,
        team=team,
        launched_by=user,
        template=template,
        template_name=template.name if template else "",
        task_text=body["task"],
        llm=body.get("llm") or "browser-use-2.0",
        request=mask_secrets(sent),
        status=LAUNCHING,
    )


def run_send(*, run: Run, body: dict, secrets: dict[str, str], api_client=None) -> Run:
    """Create the task of a recorded run: the second half of `run_launch`, with the same errors."""
    team, user = run.team, run.launched_by
    request = with_run_id({**body, **({"secrets": secrets} if secrets else {})}, str(run.pk))

    try:
        created = (api_client or client_for_team(team)).create_task(request)
    except api.ApiError as error:
        _log_api_error("Launch", run, error)
        _remember_rate_limit(team, error)
        if error.outcome_unknown:
            _update(run, status=UNKNOWN, error=error.message, error_status=error.status_code)
        else:
            _update(run, status=REJECTED, error=error.message, error_status=error.status_code)
        raise LaunchFailed(run, error) from error

    _update(run, task_id=created.get("id"), session_id=created.get("sessionId"), status="created", polled_at=timezone.now())
    logger.info("Launched run %s as task %s", run.pk, run.task_id)
    audit(team=team, actor=user, action="run.launched", target=run.pk)
    return run


def _claim(run: Run, now: datetime) -> bool:
    """Take the right to call the API for `run` now; False when another request did so recently."""
    interval = timedelta(seconds=settings.STATUS_REFRESH_SECONDS * min(2**run.poll_failures, MAX_BACKOFF_FACTOR))
    claimed = (
        Run.objects.filter(pk=run.pk)
        .filter(Q(polled_at__isnull=True) | Q(polled_at__lte=now - interval))
        .update(polled_at=now)
    )
    if claimed:
        run.polled_at = now
    return bool(claimed)


def _refresh_failed(run: Run, error: api.ApiError, now: datetime) -> None:
    _log_api_error("Refresh", run, error)
    fields = {"poll_failures": min(run.poll_failures + 1, 10), "error": error.message}
    if isinstance(error, api.ApiRateLimited) and error.retry_after:
        # Push the next claim past Retry-After, whatever the backoff interval.
        fields["polled_at"] = now + timedelta(seconds=error.retry_after)
    _update(run, **fields)


def _apply_task_view(run: Run, view: dict, *, full: bool) -> None:
    fields = {
        "status": str(view.get("status") or run.status),
        "cost": _parse_cost(view.get("cost")),
        "is_success": view.get("isSuccess"),
        "output": view.get("output"),
        "finished_at": _parse_time(view.get("finishedAt")),
        "poll_failures": 0,
        "error": "",
    }
    # Task and list views carry the start time; the lighter status view does not.
    if "startedAt" in view:
        fields["started_at"] = _parse_time(view.get("startedAt"))
    if full:
        fields.update(
            snapshot=view,
            started_at=_parse_time(view.get("startedAt")),
            judge_verdict=view.get("judgeVerdict"),
            session_id=view.get("sessionId") or run.session_id,
        )
    _update(run, **fields)


def run_refresh(*, run: Run, full: bool = False, api_client=None) -> Run:
    """Bring `run` up to date with the API, at most once per refresh interval across all requests.

    `full` also reads the whole task (steps, files, judge) while it runs; a finished run is read in
    full once. A failed read keeps the last known state and marks it stale; it never fails the run.
    """
    now = timezone.now()
    if run.status == LAUNCHING and now - run.launched_at > LAUNCH_GRACE:
        _update(run, status=UNKNOWN, error="The dashboard stopped before the API's answer was stored.")
    needs_final_read = run.status in TERMINAL_STATUSES and run.snapshot is None and run.task_id
    if run.status in (LAUNCHING, REJECTED) or (run.is_settled and not needs_final_read):
        return run
    if not _claim(run, now):
        return run

    client = api_client or client_for_team(run.team)
    try:
        if run.status == UNKNOWN:
            _reconcile(run, client)
        elif full or needs_final_read:
            _apply_task_view(run, client.get_task(str(run.task_id)), full=True)
        else:
            _apply_task_view(run, client.get_task_status(str(run.task_id)), full=False)
            if run.status in TERMINAL_STATUSES:
                _apply_task_view(run, client.get_task(str(run.task_id)), full=True)
    except api.ApiError as error:
        _refresh_failed(run, error, now)
    return run


def runs_refresh(*, team: Team, runs: list[Run], api_client=None) -> None:
    """Refresh the team's unsettled runs of a page; each run is read at most once per interval."""
    client = None
    for run in runs:
        if run.is_settled:
            continue
        client = client or api_client or client_for_team(team)
        run_refresh(run=run, api_client=client)


def run_apply_listed(*, run: Run, item: dict) -> Run:
    """Store a task's state from a `GET /tasks` list item, which lets one call refresh many runs.

    The item carries the judge's verdict but no steps, so the full task is still read once when the run
    is next shown in full.
    """
    _apply_task_view(run, item, full=False)
    _update(run, judge_verdict=item.get("judgeVerdict"), polled_at=timezone.now())
    return run


def _reconcile(run: Run, client: api.BrowserUseClient) -> None:
    """Find the task of a run whose create response was lost, by the run id in its metadata."""
    after = (run.launched_at - RECONCILE_CLOCK_SKEW).astimezone(UTC).isoformat().replace("+00:00", "Z")
    for page in range(1, RECONCILE_MAX_PAGES + 1):
        listing = client.list_tasks(after=after, pageSize=100, pageNumber=page)
        for item in listing.get("items") or []:
            if (item.get("metadata") or {}).get(RUN_ID_METADATA_KEY) == str(run.pk):
                _update(run, task_id=item["id"], session_id=item.get("sessionId"), error="")
                _apply_task_view(run, item, full=False)
                logger.info("Found task %s of run %s after a lost launch response", run.task_id, run.pk)
                return
        if page * 100 >= (listing.get("totalItems") or 0):
            break
    if timezone.now() - run.launched_at > RECONCILE_GIVE_UP:
        _update(
            run,
            status=NOT_STARTED,
            poll_failures=0,
            error="No task with this run's id exists at the API, so the launch did not start one. It is safe to launch it again.",
        )
        logger.info("Run %s did not start a task; no task carries its id", run.pk)
        return
    _update(run, poll_failures=0, error="No task with this run's id exists at the API yet; the dashboard checks again shortly.")


def run_stop(*, run: Run, actor=None, with_session: bool = False, api_client=None) -> Run:
    """Stop the run's task (and its session with `with_session`). Safe to repeat.

    After an error the status is read again, so a task that did stop, or had already ended, shows as such.
    """
    if not run.task_id:
        raise RunActionFailed("This run has no task at the API to stop.")
    client = api_client or client_for_team(run.team)
    action = "stop_task_and_session" if with_session else "stop"
    try:
        view = client.update_task(str(run.task_id), action)
    except api.ApiError as error:
        _log_api_error("Stop", run, error)
        try:
            _apply_task_view(run, client.get_task(str(run.task_id)), full=True)
        except api.ApiError:
            raise RunActionFailed(f"Stopping failed: {error.message}") from error
        if run.status not in TERMINAL_STATUSES:
            raise RunActionFailed(f"Stopping failed: {error.message}") from error
        return run
    _apply_task_view(run, view, full=True)
    logger.info("Stopped run %s (task %s) with action %s", run.pk, run.task_id, action)
    audit(team=run.team, actor=actor, action="run.stopped", target=run.pk, with_session=with_session)
    return run


def run_output_file_url(*, run: Run, file_id: str, api_client=None) -> str:
    """Return a fresh download link for one of the run's output files; links expire within minutes."""
    try:
        return (api_client or client_for_team(run.team)).get_output_file(str(run.task_id), file_id)["downloadUrl"]
    except api.ApiError as error:
        _log_api_error("Output file link", run, error)
        raise RunActionFailed(f"The file link could not be fetched: {error.message}") from error


def run_logs_url(*, run: Run, api_client=None) -> str:
    try:
        return (api_client or client_for_team(run.team)).get_task_logs(str(run.task_id))["downloadUrl"]
    except api.ApiError as error:
        _log_api_error("Logs link", run, error)
        raise RunActionFailed(f"The logs link could not be fetched: {error.message}") from error
