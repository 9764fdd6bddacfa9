"""The team audit log: who created, launched, stopped, shared, deleted, invited, removed or changed what."""

from tasks_ui.models import AuditEvent, Team


def audit(*, team: Team, actor, action: str, target: str = "", **detail) -> AuditEvent:
    """Record one event. `detail` must hold no secret: it is shown to the team's owners and admins."""
    return AuditEvent.objects.create(team=team, actor=actor, action=action, target=str(target)[:200], detail=detail)
