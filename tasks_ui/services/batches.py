"""Batches: a template launched once per row of a CSV file, by the background worker.

The worker (`tasks_ui.tasks.advance_batch`, run by `manage.py db_worker`) advances a batch in short
steps. Each step refreshes the rows in flight, then launches queued rows while the account has free
concurrent sessions and no 429 asked it to wait (`Batch.resume_at`).

A row is claimed and its run recorded in one transaction, before the create call. The row moves from
queued to launching with a conditional UPDATE, so two workers never launch one row. A worker that dies
mid-call leaves a run that the next step finds again by its metadata run id. A row is launched again
only once its run is "not started", which means that no task with the run's id turned up within the
runs service's RECONCILE_GIVE_UP.
"""

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tasks_ui import client as api
from tasks_ui.models import (
    LAUNCHING,
    NOT_STARTED,
    REJECTED,
    SETTLED_STATUSES,
    TERMINAL_STATUSES,
    UNKNOWN,
    Batch,
    BatchRow,
    Run,
    TaskTemplate,
)
from tasks_ui.services import runs as run_services
from tasks_ui.services.audit import audit
from tasks_ui.services.teams import client_for_team
from tasks_ui.services.templates import (
    LaunchInvalid,
    TemplateError,
    latest_version,
    prepare_launch,
    secret_domains,
    version_secrets,
    version_variables,
)

logger = logging.getLogger(__name__)

MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_ROWS = 10_000
MAX_COLUMNS = 200
# Rows whose cell count differs from the header's keep it under this key, so that checking the rows
# again after a mapping change still reports them.
CELL_COUNT_KEY = "__cell_count__"
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Pages of `GET /tasks` one step reads to refresh runs; runs beyond them are read one by one.
LISTING_MAX_PAGES = 3
# A task's browser session lasts at most 4 hours, so older open runs no longer hold a session.
MAX_SESSION_AGE = timedelta(hours=4)


def tick_seconds() -> float:
    """Seconds between two steps of the worker for one batch (setting BATCH_TICK_SECONDS)."""
    return settings.BATCH_TICK_SECONDS


class CsvInvalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class ParsedCsv:
    columns: list[str]
    # (row number from 1, cells by column, problem or "")
    rows: list[tuple[int, dict, str]] = field(default_factory=list)


def parse_csv(data: bytes) -> ParsedCsv:
    """Read a CSV file's header and rows; raise CsvInvalid with a plain message for a file that cannot be used.

    Python's csv module reads quoted cells with commas, quotes and line breaks inside them (RFC 4180 and
    Excel's dialect), which splitting lines by hand gets wrong. No third-party library adds what is needed here.
    """
    if len(data) > MAX_CSV_BYTES:
        raise CsvInvalid(f"The file is {len(data) / 1_048_576:.1f} MB; the limit is {MAX_CSV_BYTES // 1_048_576} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CsvInvalid(
            f"The file is not UTF-8 text: byte 0x{data[error.start]:02X} on line {line} cannot be read. "
            "Save it as “CSV UTF-8” (in Excel: File › Save As › CSV UTF-8) and upload it again."
        )
    if "\x00" in text:
        raise CsvInvalid("The file contains NUL bytes, so it is not a CSV text file. Export the sheet as CSV and upload that.")
    if not text.strip():
        raise CsvInvalid("The file is empty.")

    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
        columns = _check_header(header)
        parsed = ParsedCsv(columns=columns)
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(parsed.rows) >= MAX_ROWS:
                raise CsvInvalid(f"The file has more than {MAX_ROWS:,} rows; split it into files of at most {MAX_ROWS:,} rows.")
            parsed.rows.append(_row(len(parsed.rows) + 1, columns, cells))
    except csv.Error as error:
        raise CsvInvalid(f"The file is not valid CSV near line {reader.line_num}: {error}.")
    if not parsed.rows:
        raise CsvInvalid("The file has a header but no rows.")
    return parsed


def _check_header(header: list[str]) -> list[str]:
    columns = [name.strip() for name in header]
    if not any(columns):
        raise CsvInvalid("The first line, the header, is empty; it must name each column.")
    if len(columns) > MAX_COLUMNS:
        raise CsvInvalid(f"The file has {len(columns)} columns; the limit is {MAX_COLUMNS}.")
    for position, name in enumerate(columns, start=1):
        if not name:
            raise CsvInvalid(f"Column {position} of the header has no name; name every column.")
        if name == CELL_COUNT_KEY:
            raise CsvInvalid(f"“{name}” is reserved; rename that column.")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise CsvInvalid(f"The header names the column “{duplicates[0]}” more than once; give each column its own name.")
    return columns


def _row(number: int, columns: list[str], cells: list[str]) -> tuple[int, dict, str]:
    values = {column: cell.strip() for column, cell in zip(columns, cells)}
    if len(cells) == len(columns):
        return number, values, ""
    values[CELL_COUNT_KEY] = len(cells)
    return number, values, _cell_count_problem(len(cells), len(columns))


def _cell_count_problem(cells: int, columns: int) -> str:
    return (
        f"This row has {cells} cell{'s' if cells != 1 else ''} but the header has {columns} column{'s' if columns != 1 else ''}; "
        "check for a missing or extra separator."
    )


def formula_warnings(values: dict, columns: list[str]) -> list[str]:
    """Return a note for each cell that a spreadsheet would run as a formula; such cells are sent as typed."""
    notes = []
    for column in columns:
        cell = str(values.get(column, ""))
        if cell.startswith(FORMULA_PREFIXES) and not _looks_numeric(cell):
            notes.append(f"Column “{column}” starts with “{cell[0]}” like a spreadsheet formula; it is sent as text.")
    return notes


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def spreadsheet_safe(cell) -> str:
    """Return `cell` as text that a spreadsheet shows instead of running: a leading ' before =, +, -, @, tab or CR."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


# Creating and checking a batch


def _default_mapping(variables, columns: list[str]) -> dict[str, str]:
    def key(name: str) -> str:
        return name.strip().lower().replace(" ", "_").replace("-", "_")

    by_key = {key(column): column for column in columns}
    return {variable.name: by_key[key(variable.name)] for variable in variables if key(variable.name) in by_key}


def batch_create(*, template: TaskTemplate, user, file_name: str, data: bytes) -> Batch:
    """Read the CSV file into a draft batch of the template's current version, with columns matched to
    variables by name. Raises CsvInvalid for a file that cannot be used."""
    parsed = parse_csv(data)
    version = latest_version(template)
    with transaction.atomic():
        batch = Batch.objects.create(
            team=template.team, template_version=version, template_name=template.name, created_by=user,
            file_name=file_name[:255], columns=parsed.columns,
            mapping=_default_mapping(version_variables(version), parsed.columns),
        )
        BatchRow.objects.bulk_create(
            [
                BatchRow(batch=batch, index=number, values=values, status=BatchRow.INVALID if problem else BatchRow.QUEUED, error=problem)
                for number, values, problem in parsed.rows
            ],
            batch_size=500,
        )
    batch_check_rows(batch)
    logger.info("Created batch %s of template %s with %s rows", batch.pk, template.pk, len(parsed.rows))
    return batch


def mapping_errors(batch: Batch) -> list[str]:
    """Return what stops the batch from starting: a mapping to a missing column or an unknown variable, an
    unmapped required variable, or a credential the template does not keep."""
    version = batch.template_version
    if version is None:
        return ["The template of this batch was deleted."]
    variables = version_variables(version)
    names = {variable.name for variable in variables}
    errors = []
    for name, column in batch.mapping.items():
        if name not in names:
            errors.append(f"“{name}” is not a variable of the template; remove its mapping.")
        elif column and column not in batch.columns:
            errors.append(f"The column “{column}” mapped to “{name}” is not in the file; choose another column.")
    for variable in variables:
        if variable.required and not variable.default and not batch.mapping.get(variable.name):
            errors.append(f"Map a column to “{variable.name}”; it is required and has no default.")
    stored = version_secrets(version)
    for domain in secret_domains(version.request):
        if domain not in stored:
            errors.append(
                f"The template asks for the credential for {domain} at each launch. A batch cannot ask, so edit "
                "the template to keep it."
            )
    return errors


def _row_given(mapping: dict[str, str], values: dict) -> dict[str, str]:
    return {name: values.get(column, "") for name, column in mapping.items() if column}


def prepare_row(batch: Batch, values: dict) -> tuple[dict, dict[str, str]]:
    """Return the (body, secrets) of one row; raise LaunchInvalid naming each problem."""
    if CELL_COUNT_KEY in values:
        raise LaunchInvalid([_cell_count_problem(values[CELL_COUNT_KEY], len(batch.columns))])
    return prepare_launch(batch.template_version, _row_given(batch.mapping, values))


def batch_check_rows(batch: Batch) -> None:
    """Check every row of a draft with the current mapping, marking each queued or invalid with its reason."""
    if batch.status != Batch.DRAFT or mapping_errors(batch):
        return
    cache: dict[str, str] = {}
    changed = []
    for row in batch.rows.only("id", "values", "status", "error"):
        key = repr(sorted(_row_given(batch.mapping, row.values).items())) + repr(CELL_COUNT_KEY in row.values)
        if key not in cache:
            try:
                prepare_row(batch, row.values)
                cache[key] = ""
            except LaunchInvalid as invalid:
                cache[key] = " ".join(invalid.errors)
        error = cache[key]
        status = BatchRow.INVALID if error else BatchRow.QUEUED
        if (row.status, row.error) != (status, error):
            row.status, row.error = status, error
            changed.append(row)
    BatchRow.objects.bulk_update(changed, ["status", "error"], batch_size=500)


def batch_set_mapping(*, batch: Batch, mapping: dict[str, str]) -> None:
    if batch.status != Batch.DRAFT:
        raise TemplateError("The columns can be changed only before the batch starts.")
    batch.mapping = {name: column for name, column in mapping.items() if column}
    batch.save(update_fields=["mapping"])
    batch_check_rows(batch)


# Controls


def batch_start(*, batch: Batch, user) -> None:
    errors = mapping_errors(batch)
    if errors:
        raise TemplateError(" ".join(errors))
    if not batch.rows.filter(status=BatchRow.QUEUED).exists():
        raise TemplateError("No row of this file is valid, so there is nothing to launch.")
    started = Batch.objects.filter(pk=batch.pk, status=Batch.DRAFT).update(status=Batch.RUNNING, started_at=timezone.now())
    if not started:
        raise TemplateError("This batch has already started.")
    batch.refresh_from_db()
    audit(team=batch.team, actor=user, action="batch.started", target=batch.pk, template=batch.template_name)
    logger.info("Started batch %s", batch.pk)
    schedule_step(batch.pk, delay=0)


def batch_pause(*, batch: Batch, user) -> None:
    if not Batch.objects.filter(pk=batch.pk, status=Batch.RUNNING).update(status=Batch.PAUSED):
        raise TemplateError("Only a running batch can be paused.")
    logger.info("Paused batch %s", batch.pk)


def batch_resume(*, batch: Batch, user) -> None:
    if not Batch.objects.filter(pk=batch.pk, status=Batch.PAUSED).update(status=Batch.RUNNING):
        raise TemplateError("Only a paused batch can be resumed.")
    logger.info("Resumed batch %s", batch.pk)
    schedule_step(batch.pk, delay=0)


def batch_cancel(*, batch: Batch, user) -> int:
    """Stop launching: queued rows become cancelled. Tasks already launched run to their end.

    Returns the number of rows cancelled.
    """
    with transaction.atomic():
        if not Batch.objects.filter(pk=batch.pk, status__in=[Batch.RUNNING, Batch.PAUSED]).update(status=Batch.CANCELLED):
            raise TemplateError("Only a running or paused batch can be cancelled.")
        cancelled = batch.rows.filter(status=BatchRow.QUEUED).update(status=BatchRow.CANCELLED)
    audit(team=batch.team, actor=user, action="batch.cancelled", target=batch.pk, rows=cancelled)
    logger.info("Cancelled batch %s: %s queued rows", batch.pk, cancelled)
    schedule_step(batch.pk, delay=0)
    return cancelled


def batch_retry_failed(*, batch: Batch, user) -> int:
    """Queue again the rows whose launch failed or whose task failed; returns how many.

    The failed runs stay in the history; each row gets a new run.
    """
    if batch.status == Batch.DRAFT:
        raise TemplateError("This batch has not started yet.")
    failed = Q(status=BatchRow.FAILED) | Q(status=BatchRow.LAUNCHED, run__status="failed")
    with transaction.atomic():
        ids = list(batch.rows.filter(failed).values_list("id", flat=True))
        if not ids:
            raise TemplateError("No row has failed.")
        BatchRow.objects.filter(id__in=ids).update(status=BatchRow.QUEUED, run=None, error="")
        Batch.objects.filter(pk=batch.pk).update(status=Batch.RUNNING, finished_at=None, resume_at=None)
    logger.info("Queued %s failed rows of batch %s again", len(ids), batch.pk)
    schedule_step(batch.pk, delay=0)
    return len(ids)


# The worker


def schedule_step(batch_id, *, delay: float) -> None:
    """Queue the worker's next step for the batch, unless one is already waiting.

    NOTE: with several workers, two steps of one batch can run at once when a step lasts longer than
    BATCH_TICK_SECONDS. Each row is still claimed once, but both steps may count the same free sessions.
    The capacity 429 that may follow puts the extra rows back in the queue.
    """
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    from tasks_ui.tasks import advance_batch  # tasks.py imports this module

    if isinstance(advance_batch.get_backend(), DatabaseBackend):
        waiting = DBTaskResult.objects.filter(
            task_path=advance_batch.module_path, status="READY", args_kwargs__kwargs__batch_id=str(batch_id)
        )
        if waiting.exists():
            return
    task = advance_batch.using(run_after=timezone.now() + timedelta(seconds=delay)) if delay > 0 else advance_batch
    task.enqueue(batch_id=str(batch_id))


def postpone_step(batch_id) -> None:
    """Move the batch's waiting step to `resume_at` when a 429 asked the batch to wait longer than that.

    Without this, a step due just before `resume_at` would launch nothing and the next launch would wait
    a whole step more.
    """
    from django_tasks_db.models import DBTaskResult

    from tasks_ui.tasks import advance_batch

    resume_at = Batch.objects.filter(pk=batch_id, status=Batch.RUNNING).values_list("resume_at", flat=True).first()
    if resume_at is None or resume_at <= timezone.now():
        return
    DBTaskResult.objects.filter(
        task_path=advance_batch.module_path, status="READY", args_kwargs__kwargs__batch_id=str(batch_id),
        run_after__lt=resume_at,
    ).update(run_after=resume_at)


def worker_is_late(batch_id) -> bool:
    """Return whether the batch's next step has waited more than 30 s, which means no worker is running."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    from tasks_ui.tasks import advance_batch

    late = timezone.now() - timedelta(seconds=30)
    return DBTaskResult.objects.filter(
        Q(run_after__lte=late) | Q(run_after=get_date_max(), enqueued_at__lte=late),
        task_path=advance_batch.module_path, status="READY", args_kwargs__kwargs__batch_id=str(batch_id),
    ).exists()


_IN_FLIGHT = Q(status=BatchRow.LAUNCHING) | (Q(status=BatchRow.LAUNCHED) & ~Q(run__status__in=SETTLED_STATUSES))


def batch_needs_worker(batch_id) -> bool:
    """Return whether the batch has rows to launch or tasks to follow."""
    batch = Batch.objects.filter(pk=batch_id).only("status").first()
    if batch is None or batch.status == Batch.DRAFT:
        return False
    return batch.status == Batch.RUNNING or batch.rows.filter(_IN_FLIGHT).exists()


class _RequestBudget:
    """The API calls one step may make. The API allows a project 25 requests a second, so one step a
    second stays below it with room for the pages people have open."""

    def __init__(self, calls: int):
        self.left = calls

    def take(self, calls: int = 1) -> bool:
        if self.left < calls:
            return False
        self.left -= calls
        return True


def batch_advance(batch_id, *, api_client=None) -> None:
    """Run one step of the worker for a batch: refresh the rows in flight, launch what fits, settle the batch."""
    batch = Batch.objects.select_related("team", "created_by", "template_version__template").filter(pk=batch_id).first()
    if batch is None or batch.status in (Batch.DRAFT, Batch.FINISHED):
        return
    client = api_client or client_for_team(batch.team)
    budget = _RequestBudget(settings.BATCH_REQUESTS_PER_STEP)

    _follow_rows_in_flight(batch, client, budget)
    batch.refresh_from_db(fields=["status", "resume_at"])
    if batch.status == Batch.RUNNING and not (batch.resume_at and batch.resume_at > timezone.now()):
        _launch_queued_rows(batch, client, budget)
    _settle(batch)


def _follow_rows_in_flight(batch: Batch, client, budget: _RequestBudget) -> None:
    """Bring the runs of rows in flight up to date: runs with a task from `GET /tasks` pages, which
    read up to 100 tasks a call, and the rest (outcome unknown, or not in the pages read) one by one."""
    now = timezone.now()
    rows = batch.rows.filter(_IN_FLIGHT).select_related("run", "run__team").order_by(F("run__polled_at").asc(nulls_first=True), "index")
    listed, single = {}, []
    for row in rows:
        run = row.run
        if run is None:
            # Its run was deleted: nothing was sent for a launching row, and a launched one has ended.
            if row.status == BatchRow.LAUNCHING:
                BatchRow.objects.filter(pk=row.pk, status=BatchRow.LAUNCHING).update(status=BatchRow.QUEUED)
        elif run.is_settled:
            _update_row_from_run(row, run)
        elif run.status == LAUNCHING and now - run.launched_at < run_services.LAUNCH_GRACE:
            continue  # Its create call may still be under way in another worker.
        elif run.task_id and run.status != UNKNOWN:
            listed[str(run.task_id)] = row
        else:
            single.append(row)

    single.extend(_refresh_from_listing(listed, client, budget))
    for row in single:
        if not budget.take(1):
            return
        run_services.run_refresh(run=row.run, api_client=client)
        if row.run.status in TERMINAL_STATUSES:
            budget.left -= 1  # A run that just ended was read in full with a second call.
        _update_row_from_run(row, row.run)


def _refresh_from_listing(rows_by_task: dict[str, BatchRow], client, budget: _RequestBudget) -> list[BatchRow]:
    """Refresh runs from the pages of `GET /tasks` since the oldest one's launch; return the rows not found."""
    if not rows_by_task:
        return []
    oldest = min(row.run.launched_at for row in rows_by_task.values()) - run_services.RECONCILE_CLOCK_SKEW
    after = oldest.astimezone(UTC).isoformat().replace("+00:00", "Z")
    for page in range(1, LISTING_MAX_PAGES + 1):
        if not rows_by_task or not budget.take(1):
            break
        try:
            listing = client.list_tasks(after=after, pageSize=100, pageNumber=page)
        except api.ApiError as error:
            logger.warning("Listing tasks for a batch failed: %s, status %s", type(error).__name__, error.status_code)
            return []
        for item in listing.get("items") or []:
            row = rows_by_task.pop(str(item.get("id")), None)
            if row is not None:
                run_services.run_apply_listed(run=row.run, item=item)
                _update_row_from_run(row, row.run)
        if page * 100 >= (listing.get("totalItems") or 0):
            break
    return list(rows_by_task.values())


def _update_row_from_run(row: BatchRow, run: Run) -> None:
    """Move a launching row on once its run's outcome is known; an unknown outcome waits for the next step."""
    if row.status != BatchRow.LAUNCHING or run.status in (LAUNCHING, UNKNOWN):
        return
    if run.status == NOT_STARTED:
        # No task carries the run's id, so launching the row again cannot make a second task.
        BatchRow.objects.filter(pk=row.pk, run=run, status=BatchRow.LAUNCHING).update(status=BatchRow.QUEUED, run=None)
        logger.warning("Batch %s row %s: run %s started no task; queued again", row.batch_id, row.index, run.pk)
    elif run.status == REJECTED:
        BatchRow.objects.filter(pk=row.pk, status=BatchRow.LAUNCHING).update(status=BatchRow.FAILED, error=run.error)
    else:
        BatchRow.objects.filter(pk=row.pk, status=BatchRow.LAUNCHING).update(status=BatchRow.LAUNCHED)


def _free_sessions(batch: Batch, client, budget: _RequestBudget) -> int:
    """Return how many tasks may start now: the account's concurrent session limit less its active sessions.

    The batch's own open runs count too, because a session the API has just started may not be in
    `activeSessionCount` yet. When the account cannot be read, BATCH_FALLBACK_CONCURRENCY less the
    team's open runs is used.
    """
    own_open = batch.rows.filter(_IN_FLIGHT).count()
    if budget.take(1):
        try:
            account = client.get_account()
            limit, active = int(account["concurrentSessionLimit"]), int(account["activeSessionCount"])
            return max(0, limit - max(active, own_open))
        except api.ApiError as error:
            logger.warning("Batch %s: reading the account failed (%s); using the fallback limit", batch.pk, type(error).__name__)
        except (KeyError, TypeError, ValueError):
            logger.warning("Batch %s: the account has no usable concurrentSessionLimit; using the fallback limit", batch.pk)
    recent = timezone.now() - MAX_SESSION_AGE
    team_open = Run.objects.filter(team=batch.team, launched_at__gte=recent).exclude(status__in=SETTLED_STATUSES).count()
    return max(0, settings.BATCH_FALLBACK_CONCURRENCY - max(team_open, own_open))


# Outcomes of one launch attempt: a task (probably) started, the API rejected the row, no call was made
# for the row, nothing is queued, the request rate limit returned 429, or the step must stop launching.
_LAUNCHED, _REJECTED, _SKIPPED, _NO_ROWS, _RATE_LIMITED, _STOP = (
    "launched", "rejected", "skipped", "no rows", "rate limited", "stop"
)


@dataclass
class _LaunchCap:
    """Launches per step that the API's request rate limit let through lately, for one batch."""

    launches: int
    clean_steps: int = 0


# The caps live in this worker process, so a restarted worker learns them again. After a 429 for the
# request rate, the following steps launch no more rows than got through before it. The cap grows by
# one after CAP_PROBE_STEPS steps in a row that used the whole cap without a 429.
_launch_caps: dict[str, _LaunchCap] = {}
CAP_PROBE_STEPS = 5


def _launch_queued_rows(batch: Batch, client, budget: _RequestBudget) -> None:
    if not batch.rows.filter(status=BatchRow.QUEUED).exists():
        return
    free = _free_sessions(batch, client, budget)
    cap = _launch_caps.get(str(batch.pk))
    allowed = min(free, cap.launches) if cap else free
    launched = 0
    outcome = None
    while launched < allowed and budget.take(1):
        outcome = _launch_next_row(batch, client)
        if outcome in (_NO_ROWS, _RATE_LIMITED, _STOP):
            break
        if outcome == _LAUNCHED:
            launched += 1
        elif outcome == _SKIPPED:
            budget.left += 1

    if outcome == _RATE_LIMITED:
        _launch_caps[str(batch.pk)] = _LaunchCap(max(1, launched))
    elif cap and launched >= cap.launches:
        cap.clean_steps += 1
        if cap.clean_steps >= CAP_PROBE_STEPS:
            cap.launches, cap.clean_steps = cap.launches + 1, 0


class _RowTaken(Exception):
    """Another worker claimed the row first."""


def _launch_next_row(batch: Batch, client) -> str:
    try:
        with transaction.atomic():
            row = (
                BatchRow.objects.select_for_update(skip_locked=True)
                .filter(batch=batch, status=BatchRow.QUEUED)
                .order_by("index")
                .first()
            )
            if row is None:
                return _NO_ROWS
            try:
                body, secrets = prepare_row(batch, row.values)
            except LaunchInvalid as invalid:
                BatchRow.objects.filter(pk=row.pk, status=BatchRow.QUEUED).update(status=BatchRow.INVALID, error=" ".join(invalid.errors))
                return _SKIPPED
            template = batch.template_version.template
            run = run_services.run_record(team=batch.team, user=batch.created_by, body=body, secrets=secrets, template=template)
            claimed = BatchRow.objects.filter(pk=row.pk, status=BatchRow.QUEUED).update(
                status=BatchRow.LAUNCHING, run=run, attempts=F("attempts") + 1, error=""
            )
            if not claimed:
                raise _RowTaken
    except _RowTaken:
        return _SKIPPED

    try:
        run_services.run_send(run=run, body=body, secrets=secrets, api_client=client)
    except run_services.LaunchFailed as failure:
        return _launch_failed(batch, row, failure)
    BatchRow.objects.filter(pk=row.pk, status=BatchRow.LAUNCHING).update(status=BatchRow.LAUNCHED)
    return _LAUNCHED


def _launch_failed(batch: Batch, row: BatchRow, failure: run_services.LaunchFailed) -> str:
    error = failure.error
    if error.outcome_unknown:
        # The task may exist: the row stays launching until its run is found or known not to exist.
        return _LAUNCHED

    if isinstance(error, api.ApiRateLimited):
        # The API started nothing. The row goes back to the queue and its rejected run is dropped, so the
        # history shows one run per task rather than one per 429.
        wait = error.retry_after if error.retry_after is not None else settings.BATCH_CAPACITY_RETRY_SECONDS
        with transaction.atomic():
            BatchRow.objects.filter(pk=row.pk).update(status=BatchRow.QUEUED, run=None)
            Run.objects.filter(pk=failure.run.pk).delete()
            Batch.objects.filter(pk=batch.pk).update(resume_at=timezone.now() + timedelta(seconds=wait))
        logger.info("Batch %s: 429 from the API (%s); waiting %s s", batch.pk, "capacity" if error.capacity else "rate", wait)
        return _STOP if error.capacity else _RATE_LIMITED

    BatchRow.objects.filter(pk=row.pk).update(status=BatchRow.FAILED, error=error.message)
    blocking = isinstance(error, (api.ApiAuthError, api.ApiPaymentError)) or getattr(error, "route_missing", False)
    if blocking:
        # Every other row would fail the same way, so the batch waits for someone to fix the key or credits.
        Batch.objects.filter(pk=batch.pk, status=Batch.RUNNING).update(status=Batch.PAUSED)
        logger.warning("Batch %s paused: %s (status %s)", batch.pk, type(error).__name__, error.status_code)
        return _STOP
    return _REJECTED


def _settle(batch: Batch) -> None:
    """Mark the batch finished once nothing is queued and nothing is in flight."""
    if batch.rows.filter(_IN_FLIGHT).exists():
        return
    if batch.status == Batch.RUNNING and not batch.rows.filter(status=BatchRow.QUEUED).exists():
        Batch.objects.filter(pk=batch.pk, status=Batch.RUNNING).update(status=Batch.FINISHED, finished_at=timezone.now())
        logger.info("Batch %s finished", batch.pk)
    elif batch.status == Batch.CANCELLED:
        Batch.objects.filter(pk=batch.pk, finished_at__isnull=True).update(finished_at=timezone.now())
