"""Teams, memberships, invitations and the team's API key."""

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tasks_ui import client as api
from tasks_ui.models import Invitation, Membership, Team
from tasks_ui.services.audit import audit

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)


class TeamError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def membership_for_user(*, user) -> Membership:
    """Return the user's current membership (the team switched to last), creating a personal team on first use.

    It is read on every request, so a removed member loses access on their next request.
    """
    # Cached on the user object, which lives for one request, so the view and the page header share one query.
    if cached := getattr(user, "_current_membership", None):
        return cached
    latest_first = F("selected_at").desc(nulls_last=True)
    membership = user.memberships.select_related("team").order_by(latest_first, "joined_at").first()
    if membership:
        user._current_membership = membership
        return membership
    with transaction.atomic():
        team = Team.objects.create(name=f"{user.get_username()}'s team")
        membership = Membership.objects.create(team=team, user=user, role=Membership.OWNER, selected_at=timezone.now())
        audit(team=team, actor=user, action="team.created", target=team.name)
    return membership


def team_create(*, user, name: str) -> Membership:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        membership = Membership.objects.create(team=team, user=user, role=Membership.OWNER, selected_at=timezone.now())
        audit(team=team, actor=user, action="team.created", target=name)
    return membership


def team_switch(*, user, team_id: int) -> Membership:
    membership = user.memberships.select_related("team").filter(team_id=team_id).first()
    if membership is None:
        raise TeamError("You are not a member of that team.")
    Membership.objects.filter(pk=membership.pk).update(selected_at=timezone.now())
    user._current_membership = membership
    return membership


def client_for_team(team: Team) -> api.BrowserUseClient:
    """Return the API client for the team's own key, else the deployment's key, else the sandbox."""
    if team.api_key:
        return api.get_client(api_key=team.api_key, base_url=team.base_url or None)
    return api.get_client()


def team_uses_sandbox(team: Team) -> bool:
    return not team.api_key and api.sandbox_mode()


def team_set_api_key(*, team: Team, actor, api_key: str, base_url: str) -> dict:
    """Check the key with `GET /billing/account`, then store it encrypted. Returns the account it belongs to.

    Raises api.ApiError when the API rejects the key, so nothing is stored.
    """
    account = api.get_client(api_key=api_key, base_url=base_url or None).get_account()
    team.api_key = api_key
    team.api_key_last4 = api_key[-4:]
    team.base_url = base_url
    team.save(update_fields=["api_key", "api_key_last4", "base_url"])
    audit(team=team, actor=actor, action="team.key_changed", target=f"…{team.api_key_last4}")
    logger.info("Team %s set an API key ending in %s", team.pk, team.api_key_last4)
    return account


def team_clear_api_key(*, team: Team, actor) -> None:
    team.api_key = ""
    team.api_key_last4 = ""
    team.base_url = ""
    team.save(update_fields=["api_key", "api_key_last4", "base_url"])
    audit(team=team, actor=actor, action="team.key_removed")


def team_rename(*, team: Team, actor, name: str) -> None:
    old = team.name
    team.name = name
    team.save(update_fields=["name"])
    audit(team=team, actor=actor, action="team.renamed", target=name, old_name=old)


def invitation_create(*, team: Team, actor, role: str) -> str:
    """Create an invitation and return its token; only its hash is stored, so the link is shown once."""
    if role not in dict(Membership.ROLES):
        raise TeamError(f"“{role}” is not a role; choose owner, admin, member or viewer.")
    if role == Membership.OWNER and not _is_owner(team, actor):
        raise TeamError("Only an owner can invite another owner.")
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        team=team,
        token_hash=Invitation.hash_token(token),
        role=role,
        created_by=actor,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    audit(team=team, actor=actor, action="member.invited", target=role)
    return token


def _is_owner(team: Team, user) -> bool:
    return Membership.objects.filter(team=team, user=user, role=Membership.OWNER).exists()


def invitation_for_token(token: str) -> Invitation | None:
    """Return the open invitation for `token`, or None when it is unknown, used, revoked or expired."""
    invitation = Invitation.objects.select_related("team").filter(token_hash=Invitation.hash_token(token)).first()
    if invitation is None or invitation.used_at or invitation.revoked_at or invitation.expires_at <= timezone.now():
        return None
    return invitation


def invitation_accept(*, token: str, user) -> Membership:
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(token_hash=Invitation.hash_token(token)).select_related("team").first()
        )
        if invitation is None or invitation.used_at or invitation.revoked_at or invitation.expires_at <= timezone.now():
            raise TeamError("This invitation link is invalid, expired, revoked or already used. Ask for a new one.")
        invitation.used_at = timezone.now()
        invitation.used_by = user
        invitation.save(update_fields=["used_at", "used_by"])
        membership, created = Membership.objects.get_or_create(
            team=invitation.team, user=user, defaults={"role": invitation.role}
        )
        Membership.objects.filter(pk=membership.pk).update(selected_at=timezone.now())
        if created:
            audit(team=invitation.team, actor=user, action="member.joined", target=user.get_username(), role=invitation.role)
    return membership


def invitation_revoke(*, team: Team, actor, invitation_id: int) -> None:
    updated = Invitation.objects.filter(
        team=team, pk=invitation_id, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not updated:
        raise TeamError("That invitation is not open any more.")
    audit(team=team, actor=actor, action="invitation.revoked", target=str(invitation_id))


def member_change_role(*, team: Team, actor, membership_id: int, role: str) -> Membership:
    with transaction.atomic():
        # Lock the whole team's memberships, so two owners demoting each other cannot leave none.
        list(Membership.objects.select_for_update().filter(team=team).order_by("pk"))
        membership = Membership.objects.select_related("user").filter(team=team, pk=membership_id).first()
        if membership is None:
            raise TeamError("No such member in this team.")
        if Membership.OWNER in (role, membership.role) and not _is_owner(team, actor):
            raise TeamError("Only an owner can make or unmake an owner.")
        if membership.role == Membership.OWNER and role != Membership.OWNER:
            _ensure_another_owner(team, membership)
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit(team=team, actor=actor, action="member.role_changed", target=membership.user.get_username(), old=old, new=role)
    return membership


def member_remove(*, team: Team, actor, membership_id: int) -> None:
    with transaction.atomic():
        # Lock the whole team's memberships, so two owners demoting each other cannot leave none.
        list(Membership.objects.select_for_update().filter(team=team).order_by("pk"))
        membership = Membership.objects.select_related("user").filter(team=team, pk=membership_id).first()
        if membership is None:
            raise TeamError("No such member in this team.")
        if membership.role == Membership.OWNER:
            if not _is_owner(team, actor):
                raise TeamError("Only an owner can remove an owner.")
            _ensure_another_owner(team, membership)
        membership.delete()
        audit(team=team, actor=actor, action="member.removed", target=membership.user.get_username())


def _ensure_another_owner(team: Team, leaving: Membership) -> None:
    if not Membership.objects.filter(team=team, role=Membership.OWNER).exclude(pk=leaving.pk).exists():
        raise TeamError("A team needs at least one owner; make someone else an owner first.")
