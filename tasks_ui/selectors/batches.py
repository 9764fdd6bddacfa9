"""Read-only queries for batches: one batch, its progress, its row grid, the draft's preview and the export."""

import json
from collections.abc import Callable, Iterator

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, Sum

from tasks_ui.models import Batch, BatchRow, Run, Team
from tasks_ui.services.batches import formula_warnings, prepare_row, spreadsheet_safe
from tasks_ui.services.templates import LaunchInvalid, preview_json

ROWS_PAGE_SIZE = 100
# Input columns the grid shows; the export has them all.
GRID_COLUMNS = 3
PREVIEW_ROWS = 5
# Status shown for a launched row, from its run's status.
RUN_STATUS_DISPLAY = {"launching": "launching", "unknown": "launching", "created": "launched", "started": "running"}
GRID_FILTERS = {
    "failed": Q(status__in=[BatchRow.FAILED, BatchRow.INVALID]) | Q(status=BatchRow.LAUNCHED, run__status__in=["failed", "stopped"]),
    "open": Q(status__in=[BatchRow.QUEUED, BatchRow.LAUNCHING]) | Q(status=BatchRow.LAUNCHED, run__status__in=["created", "started"]),
    "finished": Q(status=BatchRow.LAUNCHED, run__status="finished"),
}


def batch_get(*, team: Team, user, batch_id) -> Batch | None:
    """Return the team's batch if the user may see it: batches of personal templates only to their creator."""
    visible = Q(created_by=user) | Q(template_version__template__shared=True) | Q(template_version__isnull=True)
    return (
        Batch.objects.filter(team=team)
        .filter(visible)
        .select_related("team", "created_by", "template_version__template")
        .filter(pk=batch_id)
        .first()
    )


def row_status(row: BatchRow) -> str:
    """Return the row's status as the grid shows it: queued, launching, launched, running, finished, failed, …"""
    if row.status != BatchRow.LAUNCHED:
        return row.status
    if row.run is None:
        return "finished"
    return RUN_STATUS_DISPLAY.get(row.run.status, row.run.status)


def row_reason(row: BatchRow) -> str:
    if row.error:
        return row.error
    if row.run is not None and row.run.status == "unknown":
        return "The answer to the launch was lost; looking for the task by its run id."
    if row.run is not None and row.run.status in ("failed", "stopped"):
        return row.run.error or f"The task {row.run.status}."
    return ""


def batch_progress(*, batch: Batch) -> dict:
    """Return row counts by grid status, the total, the share done and the cost so far, in one query."""
    counts: dict[str, int] = {}
    cost = 0
    grouped = batch.rows.values("status", "run__status").annotate(rows=Count("id"), cost=Sum("run__cost"))
    for group in grouped:
        status = group["status"]
        if status == BatchRow.LAUNCHED:
            run_status = group["run__status"]
            status = "finished" if run_status is None else RUN_STATUS_DISPLAY.get(run_status, run_status)
        counts[status] = counts.get(status, 0) + group["rows"]
        cost += group["cost"] or 0
    total = sum(counts.values())
    done = sum(counts.get(status, 0) for status in ("finished", "failed", "stopped", "invalid", "cancelled"))
    return {
        "counts": counts,
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "cost": cost,
        "failed": counts.get("failed", 0) + counts.get("stopped", 0),
    }


def batch_rows_page(*, batch: Batch, page_number, grid_filter: str = "") -> Page:
    rows = batch.rows.select_related("run").only(
        "id", "batch_id", "index", "values", "status", "error", "attempts",
        "run__id", "run__status", "run__cost", "run__judge_verdict", "run__is_success", "run__error",
    )
    if grid_filter in GRID_FILTERS:
        rows = rows.filter(GRID_FILTERS[grid_filter])
    page = Paginator(rows.order_by("index"), ROWS_PAGE_SIZE).get_page(page_number)
    for row in page:
        row.display_status = row_status(row)
        row.reason = row_reason(row)
        row.shown_cells = [row.values.get(column, "") for column in batch.columns[:GRID_COLUMNS]]
    return page


def draft_preview(*, batch: Batch) -> dict:
    """Return what a draft would launch: the first rows' requests, the count of tasks and the invalid rows."""
    counts = dict(batch.rows.values("status").annotate(rows=Count("id")).values_list("status", "rows"))
    previews = []
    for row in batch.rows.order_by("index")[:PREVIEW_ROWS]:
        entry = {"row": row, "warnings": formula_warnings(row.values, batch.columns), "request": "", "errors": []}
        try:
            body, secrets = prepare_row(batch, row.values)
            entry["request"] = preview_json(body, secrets)
        except LaunchInvalid as invalid:
            entry["errors"] = invalid.errors
        previews.append(entry)
    invalid_rows = list(batch.rows.filter(status=BatchRow.INVALID).order_by("index")[:50])
    warning_rows = []
    for row in batch.rows.order_by("index").only("index", "values")[:2000]:
        notes = formula_warnings(row.values, batch.columns)
        if notes:
            warning_rows.append({"index": row.index, "notes": notes})
        if len(warning_rows) >= 20:
            break
    return {
        "previews": previews,
        "tasks": counts.get(BatchRow.QUEUED, 0),
        "invalid": counts.get(BatchRow.INVALID, 0),
        "invalid_rows": invalid_rows,
        "warning_rows": warning_rows,
    }


def _output_fields(output: str | None) -> dict | None:
    if not output:
        return None
    try:
        parsed = json.loads(output)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def batch_export(*, batch: Batch, run_url: Callable[[Run], str]) -> Iterator[list[str]]:
    """Yield the export's header, then one line per row: the input columns, status, error, output, the
    structured output's top-level fields (as "output.<field>"), cost, judge verdict, success and run link.

    Every cell passes through `spreadsheet_safe`, so no cell runs as a formula when the file is opened.
    """
    rows = list(
        batch.rows.select_related("run")
        .only("index", "values", "status", "error", "run__id", "run__status", "run__output", "run__cost",
              "run__judge_verdict", "run__is_success", "run__error")
        .order_by("index")
    )
    fields: list[str] = []
    outputs = {}
    for row in rows:
        parsed = _output_fields(row.run.output if row.run else None)
        outputs[row.pk] = parsed
        for key in parsed or {}:
            if key not in fields:
                fields.append(key)

    header = [*batch.columns, "status", "error", "output", *(f"output.{key}" for key in fields), "cost", "judge_verdict", "is_success", "run_url"]
    yield [spreadsheet_safe(name) for name in header]
    for row in rows:
        run = row.run
        parsed = outputs[row.pk] or {}
        line = [
            *(row.values.get(column, "") for column in batch.columns),
            row_status(row),
            row_reason(row),
            run.output if run and run.output is not None else "",
            *(_cell(parsed.get(key)) for key in fields),
            _cell(run.cost) if run else "",
            _cell(run.judge_verdict) if run else "",
            _cell(run.is_success) if run else "",
            run_url(run) if run else "",
        ]
        yield [spreadsheet_safe(cell) for cell in line]
