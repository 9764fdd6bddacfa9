"""Read-only queries for templates: the list with run statistics, one template, its runs and versions."""

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Max, Q, QuerySet

from tasks_ui.models import TERMINAL_STATUSES, Batch, Run, TaskTemplate, Team
from tasks_ui.selectors.runs import HISTORY_COLUMNS
from tasks_ui.services.templates import version_diff

TEMPLATE_RUNS_PAGE_SIZE = 25


def visible_templates(*, team: Team, user) -> QuerySet[TaskTemplate]:
    """Return the team's shared templates and the user's personal ones."""
    return TaskTemplate.objects.filter(team=team).filter(Q(shared=True) | Q(owner=user))


def template_list(*, team: Team, user, search: str = "", mine: bool = False) -> list[TaskTemplate]:
    """Return the visible templates with their run statistics, read in one query.

    Each template gets `run_count`, `ended_count` (runs that reached a final status), `success_count`,
    `last_run_at` and `average_cost`, and the property-like `success_rate` (None before any run ended).
    """
    templates = visible_templates(team=team, user=user).select_related("owner")
    if mine:
        templates = templates.filter(owner=user)
    if search := search.strip():
        templates = templates.filter(Q(name__icontains=search) | Q(description__icontains=search))
    templates = templates.annotate(
        run_count=Count("runs"),
        ended_count=Count("runs", filter=Q(runs__status__in=TERMINAL_STATUSES)),
        success_count=Count("runs", filter=Q(runs__is_success=True)),
        last_run_at=Max("runs__launched_at"),
        average_cost=Avg("runs__cost"),
    ).order_by("name", "pk")
    result = list(templates)
    for template in result:
        template.success_rate = template.success_count / template.ended_count if template.ended_count else None
    return result


def template_get(*, team: Team, user, template_id) -> TaskTemplate | None:
    """Return the template if the user may see it, else None, so that a hidden one looks like a missing one."""
    return visible_templates(team=team, user=user).select_related("owner", "team").filter(pk=template_id).first()


def template_runs(*, template: TaskTemplate, page_number) -> Page:
    runs = (
        Run.objects.filter(template=template)
        .select_related("launched_by")
        .only(*HISTORY_COLUMNS)
        .order_by("-launched_at")
    )
    return Paginator(runs, TEMPLATE_RUNS_PAGE_SIZE).get_page(page_number)


def template_run_summary(*, template: TaskTemplate) -> dict:
    """Return the count, success rate, average and total cost, and verdicts of the template's runs."""
    summary = Run.objects.filter(template=template).aggregate(
        runs=Count("id"),
        ended=Count("id", filter=Q(status__in=TERMINAL_STATUSES)),
        succeeded=Count("id", filter=Q(is_success=True)),
        passed=Count("id", filter=Q(judge_verdict=True)),
        judged=Count("id", filter=Q(judge_verdict__isnull=False)),
        average_cost=Avg("cost"),
    )
    summary["success_rate"] = summary["succeeded"] / summary["ended"] if summary["ended"] else None
    return summary


def template_versions(*, template: TaskTemplate) -> list[dict]:
    """Return the versions, newest first, each with its diff from the version before it."""
    versions = list(template.versions.select_related("created_by").order_by("number"))
    entries = []
    previous = None
    for version in versions:
        entries.append({"version": version, "diff": version_diff(previous, version), "is_current": version is versions[-1]})
        previous = version
    return list(reversed(entries))


def template_batches(*, template: TaskTemplate) -> list[Batch]:
    return list(
        Batch.objects.filter(template_version__template=template)
        .select_related("created_by", "template_version")
        .annotate(row_count=Count("rows"))
        .order_by("-created_at")[:20]
    )
