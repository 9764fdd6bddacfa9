"""Teams and memberships."""

from django.db import transaction

from tasks_ui import client as api
from tasks_ui.models import Membership, Team


def membership_for_user(*, user) -> Membership:
    """Return the user's current membership, creating a personal team on first use."""
    membership = user.memberships.select_related("team").order_by("joined_at").first()
    if membership:
        return membership
    with transaction.atomic():
        team = Team.objects.create(name=f"{user.get_username()}'s team")
        return Membership.objects.create(team=team, user=user, role=Membership.OWNER)


def client_for_team(team: Team) -> api.BrowserUseClient:
    """Return the API client for the team's own key, else the deployment's key, else the sandbox."""
    if team.api_key:
        return api.get_client(api_key=team.api_key, base_url=team.base_url or None)
    return api.get_client()


def team_uses_sandbox(team: Team) -> bool:
    return not team.api_key and api.sandbox_mode()
