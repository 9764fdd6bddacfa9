"""Sessions through Django's test client: create, list, detail, stop, delete, share, live view and follow-ups.

Every call goes through the real views, services, httpx client and the in-process sandbox. A starting
browser (no live URL yet) is the one state the sandbox cannot produce, so those tests serve their own response.
"""

import json
import logging
import uuid
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tasks_ui.client import BrowserUseClient
from tasks_ui.forms_sessions import SessionForm
from tasks_ui.models import AuditEvent, BrowserSession, Run
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.catalog import PROFILES
from tasks_ui.sandbox.models import SandboxSession, SandboxTask
from tasks_ui.services import sessions as services
from tasks_ui.views import sessions as views
from tests.conftest import compose_data, wait_until

pytestmark = pytest.mark.django_db

PROFILE_ID = PROFILES[0]["id"]
PROXY_PASSWORD = "pr0xy-Pa55-do-not-leak"


def create_session(client, **fields) -> BrowserSession:
    data = {"keep_alive": "on", "persist_memory": "on", **fields}
    response = client.post(reverse("tasks_ui:session-new"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    return BrowserSession.objects.get(session_id=response.url.rstrip("/").rsplit("/", 1)[-1])


def launch_in(client, session_id, **fields) -> Run:
    response = client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(session_id), **fields))
    assert response.status_code == 302, response.content.decode()[:3000]
    return Run.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])


def sandbox_session(session_id) -> SandboxSession:
    return SandboxSession.objects.get(pk=session_id)


def wait_for_task_end(session_id) -> None:
    def ended():
        info = services.session_get(team=BrowserSession.objects.get(session_id=session_id).team, session_id=session_id)
        return not info.busy

    wait_until(ended, timeout=5)


# The form and the request body


def test_form_screen_needs_both():
    form = SessionForm({"screen_width": "1280", "keep_alive": "on"})

    assert not form.is_valid()
    assert form.errors["screen_height"] == ["Set both the screen width and height, or neither."]


@pytest.mark.parametrize(
    "field, value",
    [("screen_width", "319"), ("screen_width", "6145"), ("screen_height", "3457"), ("proxy_port", "0"), ("proxy_port", "65536")],
)
def test_form_rejects_out_of_range(field, value):
    data = {"screen_width": "1280", "screen_height": "800", "proxy_host": "proxy.example.com", "proxy_port": "8080", field: value}

    form = SessionForm(data)

    assert not form.is_valid()
    assert field in form.errors


def test_form_custom_proxy_needs_host_and_port():
    form = SessionForm({"proxy_username": "scraper"})

    assert not form.is_valid()
    assert "proxy_host" in form.errors
    assert "proxy_port" in form.errors


def test_form_proxy_limits_match_api():
    form = SessionForm({"proxy_host": "h" * 256, "proxy_port": "8080", "proxy_username": "u" * 256, "proxy_password": "p" * 256})

    assert not form.is_valid()
    assert set(form.errors) == {"proxy_host", "proxy_username", "proxy_password"}


def test_form_rejects_gb_country():
    form = SessionForm({"proxy_country": "gb"})

    assert not form.is_valid()
    assert "“uk”" in form.errors["proxy_country"][0]


def test_request_body_leaves_out_defaults():
    form = SessionForm({"keep_alive": "on", "persist_memory": "on"})
    assert form.is_valid()

    assert services.build_session_request(form.cleaned_data) == {}


def test_request_body_sends_every_field():
    form = SessionForm({
        "profile_id": PROFILE_ID, "proxy_country": "none", "start_url": "example.com/start", "screen_width": "1280",
        "screen_height": "800", "enable_recording": "on", "proxy_host": "proxy.example.com", "proxy_port": "3128",
        "proxy_username": "scraper", "proxy_password": PROXY_PASSWORD, "proxy_ignore_cert_errors": "on",
    })
    assert form.is_valid(), form.errors

    body = services.build_session_request(form.cleaned_data)

    assert body == {
        "profileId": PROFILE_ID,
        "proxyCountryCode": None,
        "startUrl": "https://example.com/start",
        "browserScreenWidth": 1280,
        "browserScreenHeight": 800,
        "keepAlive": False,
        "persistMemory": False,
        "enableRecording": True,
        "customProxy": {"host": "proxy.example.com", "port": 3128, "username": "scraper", "password": PROXY_PASSWORD,
                        "ignoreCertErrors": True},
    }


# Creating


def test_create_records_session(alice_client, alice, team):
    record = create_session(alice_client, name="Shop", profile_id=PROFILE_ID, proxy_country="de")

    assert record.team == team
    assert record.created_by == alice
    assert record.name == "Shop"
    assert record.request == {"profileId": PROFILE_ID, "proxyCountryCode": "de"}
    upstream = sandbox_session(record.session_id)
    assert upstream.status == "active"
    assert upstream.keep_alive is True
    assert upstream.settings["proxyCountryCode"] == "de"
    assert AuditEvent.objects.filter(action="session.created", target=str(record.session_id)).exists()


def test_create_sends_explicit_null_proxy(alice_client):
    record = create_session(alice_client, proxy_country="none")

    assert record.request == {"proxyCountryCode": None}
    assert sandbox_session(record.session_id).settings["proxyCountryCode"] is None


def test_proxy_password_kept_encrypted_only(alice_client, alice, team):
    record = create_session(alice_client, proxy_host="proxy.example.com", proxy_port="3128", proxy_username="scraper",
                            proxy_password=PROXY_PASSWORD)
    run = launch_in(alice_client, record.session_id)

    record.refresh_from_db()
    assert record.proxy_password == PROXY_PASSWORD
    assert record.request == {"customProxy": {"host": "proxy.example.com", "port": 3128, "username": "scraper"}}
    assert PROXY_PASSWORD not in json.dumps(record.request)
    with connection.cursor() as cursor:
        cursor.execute("SELECT proxy_password, request FROM tasks_ui_browsersession")
        assert PROXY_PASSWORD not in str(cursor.fetchall())
    pages = [
        reverse("tasks_ui:sessions"),
        reverse("tasks_ui:session-detail", args=[record.session_id]),
        reverse("tasks_ui:session-live", args=[record.session_id]),
        reverse("tasks_ui:run-detail", args=[run.pk]),
        reverse("tasks_ui:compose") + f"?session={record.session_id}",
        reverse("tasks_ui:session-picker") + f"?session_id={record.session_id}",
    ]
    for page in pages:
        response = alice_client.get(page)
        assert response.status_code == 200, page
        assert PROXY_PASSWORD not in response.content.decode(), page
    detail = alice_client.get(pages[1]).content.decode()
    assert "password is stored encrypted and is not shown" in detail


def test_password_not_rendered_after_error(alice_client):
    response = alice_client.post(reverse("tasks_ui:session-new"), {
        "proxy_host": "proxy.example.com", "proxy_port": "99999", "proxy_password": PROXY_PASSWORD,
    })

    assert response.status_code == 400
    html = response.content.decode()
    assert PROXY_PASSWORD not in html
    assert "type it again" in html
    assert not BrowserSession.objects.exists()


def test_unknown_profile_lands_on_field(alice_client):
    response = alice_client.post(reverse("tasks_ui:session-new"), {"profile_id": str(uuid.uuid4()), "keep_alive": "on"})

    assert response.status_code == 400
    assert "The API has no profile with this ID" in response.content.decode()
    assert not BrowserSession.objects.exists()


def test_capacity_429_shown_on_form(alice_client, settings):
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 1
    create_session(alice_client)

    response = alice_client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"})

    assert response.status_code == 400
    assert "concurrent browser sessions of this project are busy" in response.content.decode()
    assert BrowserSession.objects.count() == 1


# Permissions and team scoping


def test_viewer_cannot_change_sessions(client, alice, victor, team):
    client.force_login(alice)
    record = create_session(client)
    client.force_login(victor)
    session_id = record.session_id

    assert client.get(reverse("tasks_ui:session-new")).status_code == 403
    assert client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"}).status_code == 403
    assert client.post(reverse("tasks_ui:session-stop", args=[session_id])).status_code == 403
    assert client.post(reverse("tasks_ui:sessions-stop-idle")).status_code == 403
    assert client.get(reverse("tasks_ui:session-delete", args=[session_id])).status_code == 403
    assert client.post(reverse("tasks_ui:session-delete", args=[session_id])).status_code == 403
    assert client.post(reverse("tasks_ui:session-share", args=[session_id])).status_code == 403
    assert client.post(reverse("tasks_ui:session-share-revoke", args=[session_id])).status_code == 403
    assert client.get(reverse("tasks_ui:session-live-open", args=[session_id])).status_code == 403
    assert sandbox_session(session_id).status == "active"
    assert BrowserSession.objects.count() == 1


def test_viewer_reads_but_cannot_watch(client, alice, victor):
    client.force_login(alice)
    record = create_session(client, name="Shop")
    client.force_login(victor)

    listing = client.get(reverse("tasks_ui:sessions")).content.decode()
    detail = client.get(reverse("tasks_ui:session-detail", args=[record.session_id])).content.decode()
    live = client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()

    assert "Shop" in listing
    assert "Stop the idle" not in listing
    assert "Shop" in detail
    assert "stop-session" not in detail
    assert "Viewers cannot open the live view" in live
    assert "<iframe" not in live
    assert "/sandbox/live/" not in detail + live


def test_other_team_session_is_404(client, alice, oscar):
    client.force_login(alice)
    record = create_session(client)
    client.force_login(oscar)
    session_id = record.session_id

    for name in ("session-detail", "session-live", "session-live-status", "session-live-open", "session-recording",
                 "session-recording-status", "session-delete"):
        assert client.get(reverse(f"tasks_ui:{name}", args=[session_id])).status_code == 404, name
    for name in ("session-stop", "session-delete", "session-share", "session-share-revoke"):
        assert client.post(reverse(f"tasks_ui:{name}", args=[session_id])).status_code == 404, name
    assert sandbox_session(session_id).status == "active"


def test_list_shows_only_team_sessions(client, alice, oscar):
    client.force_login(oscar)
    theirs = create_session(client, name="Their session")
    client.force_login(alice)
    mine = create_session(client, name="Our session")
    assert client.post(reverse("tasks_ui:compose"), compose_data()).status_code == 302
    run = Run.objects.get(team__name="Acme")

    response = client.get(reverse("tasks_ui:sessions"))

    html = response.content.decode()
    assert f"session-{mine.session_id}" in html
    assert f"session-{run.session_id}" in html
    assert f"session-{theirs.session_id}" not in html
    assert "Their session" not in html


def test_typed_session_of_other_team_refused(client, alice, oscar):
    client.force_login(oscar)
    theirs = create_session(client)
    client.force_login(alice)

    response = client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(theirs.session_id)))

    assert response.status_code == 200
    assert escape(services.NOT_OWNED_MESSAGE) in response.content.decode()
    assert not Run.objects.exists()
    assert not SandboxTask.objects.exists()


# Listing


def test_list_shows_runs_and_proxy(alice_client):
    record = create_session(alice_client, name="Shop", proxy_country="de")
    run = launch_in(alice_client, record.session_id, task="Read the newest order")

    html = alice_client.get(reverse("tasks_ui:sessions")).content.decode()

    assert "Shop" in html
    assert "Read the newest order" in html
    assert reverse("tasks_ui:run-detail", args=[run.pk]) in html
    assert "1.50 MB" in html
    assert "$0.0015" in html
    assert reverse("tasks_ui:session-live-open", args=[record.session_id]) in html
    assert "/sandbox/live/" not in html


def test_list_filters_by_status(alice_client, alice, team):
    create_session(alice_client, name="Still open")
    stopped = create_session(alice_client, name="Closed one")
    services.session_stop(team=team, user=alice, session_id=stopped.session_id)

    active_page = alice_client.get(reverse("tasks_ui:sessions") + "?status=active").content.decode()
    stopped_page = alice_client.get(reverse("tasks_ui:sessions") + "?status=stopped").content.decode()

    assert "Still open" in active_page
    assert "Closed one" not in active_page
    assert "Closed one" in stopped_page
    assert "Still open" not in stopped_page


def test_list_reads_every_page(alice, team):
    now = timezone.now()
    sessions = [
        SandboxSession(status="stopped", keep_alive=True, started_at=now - timedelta(minutes=i), finished_at=now)
        for i in range(150)
    ]
    SandboxSession.objects.bulk_create(sessions)
    oldest = sessions[-1]
    BrowserSession.objects.create(session_id=oldest.id, team=team, created_by=alice, name="Oldest")

    listing = services.sessions_list(team=team)

    assert [info.id for info in listing.sessions] == [str(oldest.id)]
    assert listing.sessions[0].name == "Oldest"
    assert listing.truncated is False


def test_list_stops_early_when_all_found(alice, team, monkeypatch):
    now = timezone.now()
    SandboxSession.objects.bulk_create(
        [SandboxSession(status="stopped", started_at=now - timedelta(minutes=i), finished_at=now) for i in range(250)]
    )
    newest = SandboxSession.objects.order_by("-started_at").first()
    BrowserSession.objects.create(session_id=newest.id, team=team, created_by=alice)
    pages = []
    original = BrowserUseClient.list_sessions

    def counting(self, **params):
        pages.append(params["pageNumber"])
        assert params["pageSize"] == services.LIST_PAGE_SIZE
        return original(self, **params)

    monkeypatch.setattr(BrowserUseClient, "list_sessions", counting)

    listing = services.sessions_list(team=team)

    assert [info.id for info in listing.sessions] == [str(newest.id)]
    assert pages == [1]


def test_list_error_shown(alice_client):
    create_session(alice_client)
    faults.inject("GET /sessions", "500")

    response = alice_client.get(reverse("tasks_ui:sessions"))

    assert response.status_code == 200
    assert "The sessions could not be listed" in response.content.decode()


# Stop, bulk stop, delete


def test_stop_session(alice_client):
    record = create_session(alice_client)

    response = alice_client.post(reverse("tasks_ui:session-stop", args=[record.session_id]))

    assert response.status_code == 302
    assert sandbox_session(record.session_id).status == "stopped"
    again = alice_client.post(reverse("tasks_ui:session-stop", args=[record.session_id]), follow=True)
    assert "The session is stopped" in again.content.decode()


def test_stop_idle_keeps_busy_and_one_off(alice_client, alice, team, settings):
    idle = create_session(alice_client, name="Idle")
    settings.SANDBOX_STEP_SECONDS = 30
    busy = create_session(alice_client, name="Busy")
    launch_in(alice_client, busy.session_id)
    closes_alone = create_session(alice_client, name="Closes after a task", keep_alive="")
    done = create_session(alice_client, name="Stopped already")
    services.session_stop(team=team, user=alice, session_id=done.session_id)

    page = alice_client.get(reverse("tasks_ui:sessions")).content.decode()
    assert "1 keep-alive session is idle" in page
    response = alice_client.post(reverse("tasks_ui:sessions-stop-idle"), follow=True)

    assert sandbox_session(idle.session_id).status == "stopped"
    assert sandbox_session(busy.session_id).status == "active"
    assert sandbox_session(closes_alone.session_id).status == "active"
    assert "Stopped 1 idle keep-alive session" in response.content.decode()


def test_delete_asks_first(alice_client):
    record = create_session(alice_client, name="Shop")
    launch_in(alice_client, record.session_id)

    response = alice_client.get(reverse("tasks_ui:session-delete", args=[record.session_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "also deletes every task that ran in it" in html
    assert "1 run launched in this session" in html
    assert sandbox_session(record.session_id)


def test_delete_removes_session_and_tasks(alice_client, alice, team, settings):
    settings.SANDBOX_STEP_SECONDS = 30
    record = create_session(alice_client)
    run = launch_in(alice_client, record.session_id)

    response = alice_client.post(reverse("tasks_ui:session-delete", args=[record.session_id]), follow=True)

    assert "deleted at Browser Use" in response.content.decode()
    assert not SandboxSession.objects.filter(pk=record.session_id).exists()
    assert not SandboxTask.objects.exists()
    assert not BrowserSession.objects.exists()
    run.refresh_from_db()
    assert run.status == "stopped"
    assert "deleted" in run.error
    assert AuditEvent.objects.filter(action="session.deleted").exists()


# Detail, conversation and sharing


def test_detail_lists_tasks_in_order(alice_client, settings):
    record = create_session(alice_client, name="Research")
    first = launch_in(alice_client, record.session_id, task="Find the three newest posts")
    wait_for_task_end(record.session_id)
    # Slow steps keep the follow-up running, so the conversation still polls.
    settings.SANDBOX_STEP_SECONDS = 30
    second = launch_in(alice_client, record.session_id, task="Summarise the second post")

    response = alice_client.get(reverse("tasks_ui:session-detail", args=[record.session_id]))

    html = response.content.decode()
    assert html.index("Find the three newest posts") < html.index("Summarise the second post")
    assert "Follow-up 1" in html
    assert reverse("tasks_ui:run-detail", args=[first.pk]) in html
    assert reverse("tasks_ui:run-detail", args=[second.pk]) in html
    assert 'hx-trigger="every 3s"' in html
    partial = alice_client.get(reverse("tasks_ui:session-detail", args=[record.session_id]), headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<div id="conversation"')


def test_share_create_and_revoke(alice_client):
    record = create_session(alice_client)
    detail = reverse("tasks_ui:session-detail", args=[record.session_id])
    assert "No public link" in alice_client.get(detail).content.decode()

    alice_client.post(reverse("tasks_ui:session-share", args=[record.session_id]))
    shared = alice_client.get(detail).content.decode()
    token = sandbox_session(record.session_id).share_token
    assert token and token in shared
    assert "Viewed 0 times" in shared

    alice_client.post(reverse("tasks_ui:session-share-revoke", args=[record.session_id]))
    assert not sandbox_session(record.session_id).share_token
    assert "No public link" in alice_client.get(detail).content.decode()


def test_share_view_count_shown(alice_client):
    record = create_session(alice_client)
    alice_client.post(reverse("tasks_ui:session-share", args=[record.session_id]))
    SandboxSession.objects.filter(pk=record.session_id).update(share_view_count=3, share_last_viewed_at=timezone.now())

    html = alice_client.get(reverse("tasks_ui:session-detail", args=[record.session_id])).content.decode()

    assert "Viewed 3 times" in html


# Launching in a session


def test_busy_session_refused_before_launch(alice_client, settings):
    settings.SANDBOX_STEP_SECONDS = 30
    record = create_session(alice_client)
    launch_in(alice_client, record.session_id)

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(record.session_id)))

    assert response.status_code == 200
    assert escape(services.BUSY_MESSAGE) in response.content.decode()
    assert Run.objects.count() == 1
    assert SandboxTask.objects.count() == 1


def test_stopped_session_refused_before_launch(alice_client, alice, team):
    record = create_session(alice_client)
    services.session_stop(team=team, user=alice, session_id=record.session_id)

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(record.session_id)))

    html = response.content.decode()
    assert escape(services.STOPPED_MESSAGE) in html
    assert 'id="id_session_id_error"' in html
    assert not Run.objects.exists()


def test_unknown_session_refused(alice_client, alice, team):
    record = create_session(alice_client)
    SandboxSession.objects.filter(pk=record.session_id).delete()

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(record.session_id)))

    assert escape(services.NOT_FOUND_MESSAGE) in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.parametrize("state, message", [("busy", services.BUSY_MESSAGE), ("stopped", services.STOPPED_MESSAGE)])
def test_api_400_lands_on_session_field(alice_client, alice, team, settings, monkeypatch, state, message):
    # The session changes between the check and the launch: the check is skipped to reach the API's 400.
    monkeypatch.setattr(services, "session_launch_problem", lambda **kwargs: None)
    settings.SANDBOX_STEP_SECONDS = 30
    record = create_session(alice_client)
    if state == "busy":
        launch_in(alice_client, record.session_id)
    else:
        services.session_stop(team=team, user=alice, session_id=record.session_id)

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(session_id=str(record.session_id)))

    html = response.content.decode()
    assert response.status_code == 200
    assert escape(message) in html
    assert 'id="id_session_id_error"' in html
    assert Run.objects.filter(status="rejected").count() == 1


def test_follow_up_runs_in_same_session(alice_client):
    record = create_session(alice_client, persist_memory="on")
    first = launch_in(alice_client, record.session_id, task="Open the shop and log in")
    wait_for_task_end(record.session_id)

    compose = alice_client.get(reverse("tasks_ui:compose") + f"?session={record.session_id}")
    panel = alice_client.get(reverse("tasks_ui:session-picker") + f"?session_id={record.session_id}").content.decode()
    second = launch_in(alice_client, record.session_id, task="Now open the order history")

    assert f'value="{record.session_id}"' in compose.content.decode()
    assert "Previous task in this session" in panel
    assert "Open the shop and log in" in panel
    assert "session-ready" in panel
    assert second.session_id == first.session_id == record.session_id
    assert list(SandboxTask.objects.filter(session_id=record.session_id).values_list("request__task", flat=True)) == [
        "Now open the order history", "Open the shop and log in",
    ]


def test_picker_offers_active_sessions_only(alice_client, alice, team):
    open_one = create_session(alice_client, name="Open one")
    closed = create_session(alice_client, name="Closed one")
    services.session_stop(team=team, user=alice, session_id=closed.session_id)

    html = alice_client.get(reverse("tasks_ui:session-picker")).content.decode()

    assert f'value="{open_one.session_id}"' in html
    assert "Open one · started" in html
    assert str(closed.session_id) not in html
    stopped_panel = alice_client.get(reverse("tasks_ui:session-picker") + f"?session_id={closed.session_id}").content.decode()
    assert escape(services.STOPPED_MESSAGE) in stopped_panel


def test_picker_lists_unnamed_session_by_start(alice_client):
    record = create_session(alice_client)

    html = alice_client.get(reverse("tasks_ui:session-picker")).content.decode()

    assert f"started {timezone.localtime(record.created_at):%b %-d, %H}" in html
    assert str(record.session_id)[:8] in html


# Live view, recording and bounded polling


def test_run_page_loads_live_view(alice_client):
    record = create_session(alice_client)
    run = launch_in(alice_client, record.session_id)

    html = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk])).content.decode()

    assert f'hx-get="{reverse("tasks_ui:session-live", args=[record.session_id])}"' in html
    assert "Loading the live view" in html
    assert "/sandbox/live/" not in html


def test_live_block_frames_live_url(alice_client):
    record = create_session(alice_client)

    html = alice_client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()

    assert f'<iframe src="/sandbox/live/{record.session_id}/"' in html
    assert "continue-in-session" in html
    assert f'hx-get="{reverse("tasks_ui:session-live-status", args=[record.session_id])}?attempt=1"' in html


def test_live_block_stopped_notice(alice_client, alice, team):
    record = create_session(alice_client)
    services.session_stop(team=team, user=alice, session_id=record.session_id)

    html = alice_client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()

    assert "This session has stopped, so there is no live view." in html
    assert "<iframe" not in html
    assert "continue-in-session" not in html
    assert "hx-trigger=\"every" not in html


def serve_session(monkeypatch, view: dict):
    """Serve `view` as the response to GET /sessions/{id}, for states the sandbox does not simulate."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**view, "id": request.url.path.rsplit("/", 1)[-1]})

    client = BrowserUseClient(httpx.Client(base_url="http://api.test/api/v2", transport=httpx.MockTransport(handler)))
    monkeypatch.setattr(services, "client_for_team", lambda team: client)


STARTING_VIEW = {
    "status": "active", "liveUrl": None, "recordingUrl": None, "startedAt": "2026-12-04T10:00:00Z", "finishedAt": None,
    "keepAlive": True, "persistMemory": True, "tasks": [], "publicShareUrl": None,
}


def test_live_placeholder_polls_while_starting(alice_client, monkeypatch):
    record = create_session(alice_client)
    serve_session(monkeypatch, STARTING_VIEW)
    url = reverse("tasks_ui:session-live", args=[record.session_id])

    html = alice_client.get(url + "?attempt=3").content.decode()

    assert "Starting the browser" in html
    assert f'hx-get="{url}?attempt=4" hx-trigger="every 2s"' in html
    assert "<iframe" not in html


def test_live_placeholder_polling_is_bounded(alice_client, monkeypatch):
    record = create_session(alice_client)
    serve_session(monkeypatch, STARTING_VIEW)
    url = reverse("tasks_ui:session-live", args=[record.session_id])

    last = alice_client.get(url + f"?attempt={views.LIVE_START_MAX_ATTEMPTS - 1}").content.decode()
    after = alice_client.get(url + f"?attempt={views.LIVE_START_MAX_ATTEMPTS}").content.decode()

    assert f"?attempt={views.LIVE_START_MAX_ATTEMPTS}\" hx-trigger" in last
    assert "hx-trigger" not in after
    assert "did not become ready within a minute. Refresh the page to try again." in after
    assert views.LIVE_START_MAX_ATTEMPTS * views.LIVE_START_INTERVAL_SECONDS == 60


def test_live_url_from_other_origin_not_framed(alice_client, monkeypatch, caplog):
    record = create_session(alice_client)
    serve_session(monkeypatch, {**STARTING_VIEW, "liveUrl": "https://evil.example.com/?wss=token-123"})

    with caplog.at_level(logging.INFO):
        html = alice_client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()

    assert "evil.example.com" not in html
    assert "<iframe" not in html
    assert "token-123" not in caplog.text


def test_live_status_polling_is_bounded(alice_client):
    record = create_session(alice_client)
    url = reverse("tasks_ui:session-live-status", args=[record.session_id])

    polling = alice_client.get(url + "?attempt=5").content.decode()
    last = alice_client.get(url + f"?attempt={views.LIVE_STATUS_MAX_ATTEMPTS}").content.decode()

    assert f'{url}?attempt=6" hx-trigger="every 5s"' in polling
    assert "hx-trigger" not in last
    assert "no longer checked" in last


def test_live_status_replaces_frame_when_stopped(alice_client, alice, team):
    record = create_session(alice_client)
    services.session_stop(team=team, user=alice, session_id=record.session_id)

    html = alice_client.get(reverse("tasks_ui:session-live-status", args=[record.session_id]) + "?attempt=2").content.decode()

    assert f'id="live-frame-{record.session_id}" hx-swap-oob="true"' in html
    assert "hx-trigger" not in html


def test_live_open_redirects_to_fresh_url(alice_client, alice, team):
    record = create_session(alice_client)
    url = reverse("tasks_ui:session-live-open", args=[record.session_id])

    response = alice_client.get(url)
    services.session_stop(team=team, user=alice, session_id=record.session_id)
    after_stop = alice_client.get(url)

    assert response.status_code == 302
    assert response.url == f"/sandbox/live/{record.session_id}/"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert after_stop.url == reverse("tasks_ui:session-detail", args=[record.session_id])


def test_live_url_never_stored_or_logged(alice_client, caplog):
    record = create_session(alice_client, enable_recording="on")
    with caplog.at_level(logging.DEBUG):
        run = launch_in(alice_client, record.session_id)
        wait_for_task_end(record.session_id)
        for url in (
            reverse("tasks_ui:session-live", args=[record.session_id]),
            reverse("tasks_ui:session-detail", args=[record.session_id]),
            reverse("tasks_ui:sessions"),
            reverse("tasks_ui:run-detail", args=[run.pk]),
            reverse("tasks_ui:session-live-open", args=[record.session_id]),
        ):
            alice_client.get(url)
        alice_client.post(reverse("tasks_ui:session-stop", args=[record.session_id]))
        alice_client.get(reverse("tasks_ui:session-recording", args=[record.session_id]))

    stored = json.dumps([
        list(Run.objects.values("request", "snapshot", "error", "output")),
        list(BrowserSession.objects.values("request", "name")),
        list(AuditEvent.objects.values("detail", "target")),
    ], default=str)
    assert "/sandbox/live/" not in stored
    assert "recording.mp4" not in stored
    assert "/sandbox/live/" not in caplog.text


def test_recording_link_after_stop(alice_client, alice, team):
    record = create_session(alice_client, enable_recording="on")
    services.session_stop(team=team, user=alice, session_id=record.session_id)

    block = alice_client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()
    status = alice_client.get(reverse("tasks_ui:session-recording-status", args=[record.session_id])).content.decode()
    download = alice_client.get(reverse("tasks_ui:session-recording", args=[record.session_id]))

    assert reverse("tasks_ui:session-recording", args=[record.session_id]) in block
    assert "Download the recording" in status
    assert "recording.mp4" not in status
    assert download.status_code == 302
    assert download.url.endswith(f"/sandbox/files/sessions/{record.session_id}/recording.mp4")


def test_no_recording_without_request(alice_client, alice, team):
    record = create_session(alice_client)
    services.session_stop(team=team, user=alice, session_id=record.session_id)

    block = alice_client.get(reverse("tasks_ui:session-live", args=[record.session_id])).content.decode()

    assert "recording" not in block.lower()


def test_recording_polling_is_bounded(alice_client, monkeypatch):
    record = create_session(alice_client, enable_recording="on")
    serve_session(monkeypatch, {**STARTING_VIEW, "status": "stopped", "finishedAt": "2026-12-04T10:05:00Z"})
    url = reverse("tasks_ui:session-recording-status", args=[record.session_id])

    waiting = alice_client.get(url + "?attempt=2").content.decode()
    last = alice_client.get(url + f"?attempt={views.RECORDING_MAX_ATTEMPTS}").content.decode()

    assert f'{url}?attempt=3" hx-trigger="every 5s"' in waiting
    assert "being prepared" in waiting
    assert "hx-trigger" not in last
    assert "not ready yet" in last


def test_csp_allows_exactly_live_origin(alice_client, settings):
    record = create_session(alice_client)

    response = alice_client.get(reverse("tasks_ui:session-detail", args=[record.session_id]))

    policy = response["Content-Security-Policy"]
    frame_src = next(part.strip() for part in policy.split(";") if part.strip().startswith("frame-src"))
    assert frame_src == f"frame-src 'self' {settings.BROWSER_USE_LIVE_VIEW_ORIGIN}"
    assert settings.BROWSER_USE_LIVE_VIEW_ORIGIN == "https://live.browser-use.com"


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("/sandbox/live/3f1e2d7c-0000-4000-8000-000000000000/", True),
        ("https://live.browser-use.com?wss=abc", True),
        ("https://live.browser-use.com/?theme=light&wss=abc", True),
        ("http://live.browser-use.com?wss=abc", False),
        ("https://live.browser-use.com.evil.example?wss=abc", False),
        ("https://evil.example.com/?wss=abc", False),
        ("/admin/", False),
        ("javascript:alert(1)", False),
    ],
)
def test_live_url_allowed(url, allowed):
    assert services.live_url_allowed(url) is allowed
