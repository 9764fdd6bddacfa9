"""Read-only queries and view data for runs. Nothing here calls the API."""

import json

import jsonschema
from django.core.paginator import Page, Paginator

from tasks_ui.models import Run, Team

HISTORY_PAGE_SIZE = 25
# Columns the history list shows; the large JSON and text columns stay out of its query.
HISTORY_COLUMNS = (
    "id", "team_id", "launched_by__username", "task_id", "status", "task_text", "llm", "launched_at", "started_at",
    "finished_at", "cost", "is_success", "judge_verdict", "error", "poll_failures", "polled_at",
)


def run_page(*, team: Team, page_number, launched_by_id: int | None = None) -> Page:
    """Return one page of the team's runs, newest first, optionally only those one person launched."""
    runs = Run.objects.filter(team=team).select_related("launched_by").only(*HISTORY_COLUMNS).order_by("-launched_at")
    if launched_by_id is not None:
        runs = runs.filter(launched_by_id=launched_by_id)
    return Paginator(runs, HISTORY_PAGE_SIZE).get_page(page_number)


def team_launchers(*, team: Team) -> list:
    """Return the team's current members, for the history's "launched by" filter."""
    return [membership.user for membership in team.memberships.select_related("user").order_by("user__username")]


def run_get(*, team: Team, run_id) -> Run | None:
    """Return the team's run with this id, or None, so that another team's run looks like a missing one."""
    return Run.objects.filter(team=team, pk=run_id).select_related("launched_by", "team").first()


def run_output(run: Run) -> dict:
    """Describe the run's output for display: raw text, parsed JSON and its mismatches with the schema."""
    raw = run.output
    result = {"raw": raw, "parsed": None, "is_json": False, "schema_errors": [], "note": ""}
    if raw is None:
        return result
    try:
        result["parsed"] = json.loads(raw)
        result["is_json"] = True
    except ValueError:
        if run.structured_output_schema:
            result["note"] = "The output is not valid JSON, although a schema was given, so it is shown as sent."
        return result

    if schema_text := run.structured_output_schema:
        try:
            schema = json.loads(schema_text)
            validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
            errors = sorted(validator_class(schema).iter_errors(result["parsed"]), key=lambda e: list(e.absolute_path))
        except (ValueError, jsonschema.SchemaError):
            errors = []
        result["schema_errors"] = [
            {"path": "/".join(str(part) for part in error.absolute_path) or "(top level)", "message": error.message}
            for error in errors[:20]
        ]
    return result


def run_judgement(run: Run) -> dict | str | None:
    """Return the judge's report parsed from its JSON string, or the raw text when it is not JSON."""
    text = (run.snapshot or {}).get("judgement")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def run_steps(run: Run) -> list[dict]:
    """Return the steps of the last task view, with each action decoded from its JSON string when possible."""
    steps = []
    for step in (run.snapshot or {}).get("steps") or []:
        actions = []
        for action in step.get("actions") or []:
            try:
                actions.append(json.dumps(json.loads(action), indent=1))
            except (TypeError, ValueError):
                actions.append(str(action))
        steps.append({**step, "decoded_actions": actions})
    return steps
