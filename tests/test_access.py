"""Every URL of the dashboard, pages and partials, tried by named people: an outsider gets 404 for anything of
Acme's, a viewer gets 403 for every change, and no Acme data leaks through a guessed id or a filter."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tasks_ui.models import AuditEvent, Batch, BatchRow, BrowserSession, Invitation, Membership, Run, TaskTemplate
from tasks_ui.services import runs as run_services
from tasks_ui.services import teams as team_services

from .conftest import wait_until

pytestmark = pytest.mark.django_db

MARKER = "ACME-ONLY-7c1d"
# Views open to anyone logged in, whatever their role: their own team list, switching and joining by link.
OPEN_TO_ALL = {"team-new", "team-switch", "invitation"}


def _patterns(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and namespace == "tasks_ui":
            yield entry


@pytest.fixture
def acme(alice, bob, victor, team, oscar, settings):
    """Acme's objects: a finished run with a file, a session, an invitation and a template."""
    run = run_services.run_launch(team=team, user=alice, body={"task": f"Read the invoice {MARKER}"}, secrets={})
    wait_until(lambda: run_services.run_refresh(run=Run.objects.select_related("team").get(pk=run.pk), full=True).status == "finished")
    run.refresh_from_db()
    token = team_services.invitation_create(team=team, actor=alice, role="member")
    session = BrowserSession.objects.create(session_id=run.session_id, team=team, created_by=alice, name=f"Session {MARKER}")
    template = TaskTemplate.objects.create(team=team, owner=alice, name=f"Template {MARKER}", shared=True)
    version = template.versions.create(number=1, request={"task": MARKER}, variables=[], created_by=alice)
    batch = Batch.objects.create(
        team=team, template_version=version, template_name=template.name, created_by=alice, columns=["city"], file_name="cities.csv"
    )
    batch.rows.create(index=1, values={"city": MARKER})
    return {
        "batch_id": batch.pk,
        "run_id": run.pk,
        "file_id": run.snapshot["outputFiles"][0]["id"],
        "session_id": session.session_id,
        "invitation_id": Invitation.objects.get(team=team).pk,
        "membership_id": Membership.objects.get(user=bob).pk,
        "token": token,
        "template_id": template.pk,
        "version_id": template.versions.get().pk,
        "number": 1,
    }


def _url(pattern: URLPattern, objects: dict) -> str:
    kwargs = {}
    for name in pattern.pattern.converters:
        assert name in objects, f"tests/test_access.py has no Acme object for <{name}> in {pattern.name}; add one"
        kwargs[name] = objects[name]
    return reverse(f"tasks_ui:{pattern.name}", kwargs=kwargs)


def _state() -> tuple:
    return (
        list(Run.objects.values_list("pk", "status").order_by("pk")),
        list(Membership.objects.values_list("pk", "role").order_by("pk")),
        list(Invitation.objects.values_list("pk", "revoked_at").order_by("pk")),
        list(TaskTemplate.objects.values_list("pk", "name").order_by("pk")),
        BrowserSession.objects.count(),
        list(Batch.objects.values_list("pk", "status", "mapping").order_by("pk")),
        list(BatchRow.objects.values_list("pk", "status").order_by("pk")),
    )


def test_outsider_gets_404_for_everything(acme, oscar, client):
    client.force_login(oscar)
    checked = 0
    for pattern in _patterns():
        url = _url(pattern, acme)
        # Anyone with an invitation link may join by design, so the outsider does not post it.
        methods = (client.get,) if pattern.name == "invitation" else (client.get, client.post)
        for method in methods:
            response = method(url)
            body = response.content.decode(errors="replace")
            assert response.status_code != 500, f"{method.__name__.upper()} {url} crashed"
            assert MARKER not in body, f"{method.__name__.upper()} {url} shows Acme data to an outsider"
            if pattern.pattern.converters and pattern.name not in OPEN_TO_ALL:
                assert response.status_code in (404, 405), f"{method.__name__.upper()} {url}: {response.status_code}"
            checked += 1
    assert checked > 40


def test_outsider_cannot_reach_acme_through_filters(acme, oscar, alice, client):
    client.force_login(oscar)
    for url in (f"/?by={alice.pk}", f"/tasks/new/?from={acme['run_id']}", f"/tasks/new/?session={acme['session_id']}"):
        response = client.get(url)
        assert MARKER not in response.content.decode(), url


def test_viewer_gets_403_for_every_change(acme, victor, client):
    client.force_login(victor)
    before = _state()
    for pattern in _patterns():
        if pattern.name in OPEN_TO_ALL:
            continue
        url = _url(pattern, acme)
        response = client.post(url, {"role": "owner", "name": "Renamed", "api_key": "bu_x", "task": "viewer launch"})
        assert response.status_code in (403, 405), f"POST {url} by a viewer gave {response.status_code}"
        htmx = client.post(url, HTTP_HX_REQUEST="true")
        assert htmx.status_code in (403, 405), f"htmx POST {url} by a viewer gave {htmx.status_code}"
    assert _state() == before
    assert not AuditEvent.objects.filter(actor=victor).exists()


def test_viewer_reads_runs(acme, victor, client):
    client.force_login(victor)

    assert MARKER in client.get("/").content.decode()
    assert MARKER in client.get(reverse("tasks_ui:run-detail", args=[acme["run_id"]])).content.decode()
    assert client.get(reverse("tasks_ui:compose")).status_code == 403


def test_member_cannot_manage_team(acme, bob, client):
    client.force_login(bob)
    for name, kwargs in (
        ("team-key", {}),
        ("team-key-remove", {}),
        ("team-rename", {}),
        ("invitation-create", {}),
        ("invitation-revoke", {"invitation_id": acme["invitation_id"]}),
        ("member-role", {"membership_id": acme["membership_id"]}),
        ("member-remove", {"membership_id": acme["membership_id"]}),
        ("audit", {}),
    ):
        url = reverse(f"tasks_ui:{name}", kwargs=kwargs)
        response = client.post(url, {"role": "owner"}) if name != "audit" else client.get(url)
        assert response.status_code == 403, url
