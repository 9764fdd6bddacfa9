"""Teams and memberships."""

from django.db import transaction

from tasks_ui.models import Membership, Team


def membership_for_user(*, user) -> Membership:
    """Return the user's current membership, creating a personal team on first use."""
    membership = user.memberships.select_related("team").order_by("joined_at").first()
    if membership:
        return membership
    with transaction.atomic():
        team = Team.objects.create(name=f"{user.get_username()}'s team")
        return Membership.objects.create(team=team, user=user, role=Membership.OWNER)
