"""Read-only queries about the team's browser sessions. Nothing here calls the API.

A session belongs to a team when the team created it (a BrowserSession row) or when one of the team's
runs used it. Every page and action checks this, so that teams sharing the deployment's API key never
see each other's sessions.
"""

import uuid
from collections import defaultdict

from tasks_ui.models import BrowserSession, Run, Team


def team_session_ids(*, team: Team) -> set[str]:
    created = BrowserSession.objects.filter(team=team).values_list("session_id", flat=True)
    used = Run.objects.filter(team=team, session_id__isnull=False).values_list("session_id", flat=True).distinct()
    return {str(session_id) for session_id in [*created, *used]}


def team_owns_session(*, team: Team, session_id) -> bool:
    return (
        BrowserSession.objects.filter(team=team, session_id=session_id).exists()
        or Run.objects.filter(team=team, session_id=session_id).exists()
    )


def browser_session_get(*, team: Team, session_id) -> BrowserSession | None:
    return BrowserSession.objects.filter(team=team, session_id=session_id).select_related("created_by").first()


def browser_sessions_by_id(*, team: Team, session_ids) -> dict[str, BrowserSession]:
    rows = BrowserSession.objects.filter(team=team, session_id__in=list(session_ids)).select_related("created_by")
    return {str(row.session_id): row for row in rows}


def runs_by_session(*, team: Team, session_ids) -> dict[str, list[Run]]:
    """Return the team's runs in each of these sessions, oldest first."""
    runs = (
        Run.objects.filter(team=team, session_id__in=list(session_ids))
        .select_related("launched_by")
        .defer("snapshot", "request")
        .order_by("launched_at")
    )
    grouped: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        grouped[str(run.session_id)].append(run)
    return grouped


def session_runs(*, team: Team, session_id) -> list[Run]:
    return list(Run.objects.filter(team=team, session_id=session_id).select_related("launched_by").order_by("launched_at"))


def recording_requested(*, team: Team, session_id) -> bool:
    """Tell whether the team asked for a recording of this session, when it created it or in a run's settings."""
    record = BrowserSession.objects.filter(team=team, session_id=session_id).only("request").first()
    if record is not None:
        return bool(record.request.get("enableRecording"))
    for request in Run.objects.filter(team=team, session_id=session_id).values_list("request", flat=True):
        if (request.get("sessionSettings") or {}).get("enableRecording"):
            return True
    return False


def parse_uuid(value) -> uuid.UUID | None:
    """Return `value` as a UUID, or None when it is empty or not a UUID."""
    try:
        return uuid.UUID(str(value).strip()) if value else None
    except ValueError:
        return None
