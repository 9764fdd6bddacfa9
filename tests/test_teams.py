"""Teams: current team, invitations, roles, the team's API key and the audit log."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks_ui.models import AuditEvent, Invitation, Membership, Run, Team
from tasks_ui.services import teams

from .conftest import compose_data, make_member

pytestmark = pytest.mark.django_db


def _invite(client, role="member") -> str:
    response = client.post(reverse("tasks_ui:invitation-create"), {"role": role})
    assert response.status_code == 200
    url = response.context["new_invitation_url"]
    assert "/invitations/" in url
    return url.split("testserver", 1)[1]


def test_invitation_link_joins_once(alice_client, client, django_user_model):
    path = _invite(alice_client, role="viewer")
    alice_client.logout()
    newcomer = django_user_model.objects.create_user("nina", password="x-long-password-1")
    client.force_login(newcomer)

    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 302
    membership = Membership.objects.get(user=newcomer, team__name="Acme")
    assert membership.role == "viewer"
    assert teams.membership_for_user(user=newcomer).team.name == "Acme"

    second = django_user_model.objects.create_user("nora", password="x-long-password-1")
    client.force_login(second)
    assert client.get(path).status_code == 404
    client.post(path)
    assert not Membership.objects.filter(user=second, team__name="Acme").exists()


def test_invitation_expired_or_revoked(alice, team, client, django_user_model):
    token = teams.invitation_create(team=team, actor=alice, role="member")
    invitation = Invitation.objects.get()
    guest = django_user_model.objects.create_user("gus", password="x-long-password-1")
    client.force_login(guest)

    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/invitations/{token}/").status_code == 404

    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + timedelta(days=1))
    teams.invitation_revoke(team=team, actor=alice, invitation_id=invitation.pk)
    client.post(f"/invitations/{token}/")
    assert not Membership.objects.filter(user=guest, team=team).exists()


def test_only_hash_of_token_is_stored(alice, team):
    token = teams.invitation_create(team=team, actor=alice, role="member")
    stored = Invitation.objects.get()
    assert stored.token_hash != token
    assert token not in stored.token_hash


def test_removed_member_loses_access_next_request(alice, bob, team, client):
    client.force_login(bob)
    client.post(reverse("tasks_ui:compose"), compose_data(task="Bob's task"))
    run = Run.objects.get()
    assert client.get(reverse("tasks_ui:run-detail", args=[run.pk])).status_code == 200

    teams.member_remove(team=team, actor=alice, membership_id=Membership.objects.get(user=bob).pk)

    # Bob falls back to a personal team of his own, and Acme's run is hidden from him.
    assert client.get(reverse("tasks_ui:run-detail", args=[run.pk])).status_code == 404
    assert b"Bob&#x27;s task" not in client.get(reverse("tasks_ui:history")).content


def test_last_owner_cannot_leave(alice, team):
    with pytest.raises(teams.TeamError, match="at least one owner"):
        teams.member_remove(team=team, actor=alice, membership_id=Membership.objects.get(user=alice).pk)
    with pytest.raises(teams.TeamError, match="at least one owner"):
        teams.member_change_role(team=team, actor=alice, membership_id=Membership.objects.get(user=alice).pk, role="admin")


def test_admin_cannot_make_owner(team, alice):
    admin = make_member("ada", team, Membership.ADMIN)
    member = make_member("max", team, Membership.MEMBER)
    with pytest.raises(teams.TeamError, match="Only an owner"):
        teams.member_change_role(team=team, actor=admin, membership_id=Membership.objects.get(user=member).pk, role="owner")
    with pytest.raises(teams.TeamError, match="Only an owner"):
        teams.invitation_create(team=team, actor=admin, role="owner")


def test_switch_team_changes_history(alice, team, client):
    other = Team.objects.create(name="Side project")
    Membership.objects.create(team=other, user=alice, role=Membership.MEMBER)
    client.force_login(alice)
    client.post(reverse("tasks_ui:compose"), compose_data(task="Task in Acme"))

    client.post(reverse("tasks_ui:team-switch"), {"team": other.pk})
    assert teams.membership_for_user(user=alice).team == other
    page = client.get(reverse("tasks_ui:history")).content.decode()
    assert "Task in Acme" not in page
    assert "Side project" in page

    response = client.post(reverse("tasks_ui:team-switch"), {"team": Team.objects.create(name="Not mine").pk})
    assert response.status_code == 302
    assert teams.membership_for_user(user=alice).team == other


def test_history_filters_by_launcher(alice, bob, team, client):
    for person, text in ((alice, "Alice's run"), (bob, "Bob's run")):
        client.force_login(person)
        client.post(reverse("tasks_ui:compose"), compose_data(task=text))
    client.force_login(alice)

    everyone = client.get(reverse("tasks_ui:history")).content.decode()
    assert "Alice&#x27;s run" in everyone
    assert "Bob&#x27;s run" in everyone
    mine = client.get(reverse("tasks_ui:history") + "?mine=1").content.decode()
    assert "Alice&#x27;s run" in mine
    assert "Bob&#x27;s run" not in mine
    by_bob = client.get(reverse("tasks_ui:history") + f"?by={bob.pk}").content.decode()
    assert "Bob&#x27;s run" in by_bob
    assert "Alice&#x27;s run" not in by_bob


@pytest.mark.django_db(transaction=True)
def test_key_is_checked_encrypted_and_masked(alice, team, client, live_server, settings):
    client.force_login(alice)
    sandbox_url = f"{live_server.url}/sandbox/api/v2"

    bad = client.post(reverse("tasks_ui:team-key"), {"api_key": "bu_wrong_key_9999", "base_url": sandbox_url})
    assert bad.status_code == 400
    assert "rejected the API key" in bad.content.decode()
    assert b"bu_wrong_key_9999" not in bad.content

    good = client.post(reverse("tasks_ui:team-key"), {"api_key": settings.SANDBOX_API_KEY, "base_url": sandbox_url}, follow=True)
    assert "was saved, encrypted" in good.content.decode()
    team.refresh_from_db()
    assert team.api_key == settings.SANDBOX_API_KEY
    assert team.api_key_last4 == settings.SANDBOX_API_KEY[-4:]

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM tasks_ui_team WHERE id = %s", [team.pk])
        stored = cursor.fetchone()[0]
    assert settings.SANDBOX_API_KEY not in stored

    page = client.get(reverse("tasks_ui:team")).content.decode()
    assert settings.SANDBOX_API_KEY not in page
    assert f"…{settings.SANDBOX_API_KEY[-4:]}" in page

    # Launches now go over HTTP to the team's base URL with the team's key.
    client.post(reverse("tasks_ui:compose"), compose_data(task="Through the team key"))
    run = Run.objects.get()
    assert run.task_id is not None
    assert AuditEvent.objects.filter(team=team, action="team.key_changed").exists()


def test_audit_log_records_and_is_restricted(alice, bob, team, client):
    client.force_login(bob)
    client.post(reverse("tasks_ui:compose"), compose_data(task="Audited"))
    run = Run.objects.get()
    client.post(reverse("tasks_ui:run-stop", args=[run.pk]))
    assert client.get(reverse("tasks_ui:audit")).status_code == 403

    client.force_login(alice)
    log = client.get(reverse("tasks_ui:audit")).content.decode()
    assert "run.launched" in log
    assert "run.stopped" in log
    assert "bob" in log
