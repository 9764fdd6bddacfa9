"""The run pages through Django's test client: compose, preview, history, run detail, stop and downloads.

Launches go through the real views, services, httpx client and the in-process sandbox.
"""

import json
import uuid
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from tasks_ui.forms import TaskForm
from tasks_ui.models import Run
from tasks_ui.payloads import SECRET_MASK
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.models import SandboxTask
from tasks_ui.services import runs as services
from tests.conftest import compose_data, wait_until

pytestmark = pytest.mark.django_db

SECRET = "pa55-Vw9-do-not-leak"
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
SECTIONS = ["basics", "output", "session", "agent", "security", "judge", "skills", "metadata"]


@pytest.fixture
def slow_steps(settings):
    """Make a task run for seconds, so a test can act on it before it ends by itself."""
    settings.SANDBOX_STEP_SECONDS = 2


class ElementIndex(HTMLParser):
    """Collect the attributes of every element that has an id."""

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.by_id[attributes["id"]] = {"tag": tag, **attributes}


def elements(response) -> dict[str, dict[str, str | None]]:
    return ElementIndex(response.content.decode()).by_id


def launch_through_form(client, **fields) -> Run:
    response = client.post(reverse("tasks_ui:compose"), compose_data(**fields))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Run.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])


def finish(run: Run) -> Run:
    """Refresh `run` through the service until its task finished, reading the full task at the end."""
    wait_until(lambda: services.run_refresh(run=run).status == "finished", timeout=5)
    run.refresh_from_db()
    return run


def make_run(team, user, **fields) -> Run:
    values = {
        "team": team,
        "launched_by": user,
        "task_text": "Find the weather in Cheongju",
        "llm": "browser-use-2.0",
        "request": {"task": "Find the weather in Cheongju"},
        "task_id": uuid.uuid4(),
        **fields,
    }
    return Run.objects.create(**values)


# Compose


def test_compose_renders_every_section(alice_client):
    response = alice_client.get(reverse("tasks_ui:compose"))

    assert response.status_code == 200
    found = elements(response)
    for section in SECTIONS:
        assert f"section-{section}" in found, section
    for name in TaskForm.base_fields:
        assert f"id_{name}" in found or f"id_{name}_0" in found, name
    assert "payload-preview" in found
    html = response.content.decode()
    assert 'name="metadata-TOTAL_FORMS"' in html
    assert 'name="secrets-TOTAL_FORMS"' in html


def test_compose_error_keeps_typed_values(alice_client):
    data = compose_data(
        task="Find the cheapest flight from Mumbai to Delhi",
        start_url="https://www.goibibo.com/flights/",
        proxy_country="gb",
        max_steps="0",
        metadata={"campaign": "winter"},
        secrets={"goibibo.com": SECRET},
    )

    response = alice_client.post(reverse("tasks_ui:compose"), data)

    assert response.status_code == 200
    assert not Run.objects.exists()
    found = elements(response)
    assert found["id_task"]["tag"] == "textarea"
    html = response.content.decode()
    assert "Find the cheapest flight from Mumbai to Delhi" in html
    assert found["id_start_url"]["value"] == "https://www.goibibo.com/flights/"
    assert found["id_max_steps"]["value"] == "0"
    assert found["id_metadata-0-key"]["value"] == "campaign"
    assert found["id_metadata-0-value"]["value"] == "winter"
    assert found["id_secrets-0-domain"]["value"] == "goibibo.com"
    assert found["id_secrets-0-credential"]["value"] == SECRET
    assert "section--error" in found["section-session"]["class"]
    assert "open" in found["section-session"]
    assert "section--error" not in found["section-judge"]["class"]
    assert "code for the United Kingdom is “uk”" in html
    assert "id_max_steps_error" in found


def test_compose_launch_redirects_to_run(alice_client):
    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(max_steps="30"))

    run = Run.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("tasks_ui:run-detail", args=[run.pk])
    assert run.request == {
        "task": "Open example.com and report the page title",
        "maxSteps": 30,
        "metadata": {"dashboardRunId": str(run.pk)},
    }
    assert run.task_id is not None
    page = alice_client.get(response.url)
    assert "Task launched" in page.content.decode()


def test_compose_from_run_prefills(alice_client):
    run = launch_through_form(
        alice_client, llm="o3", structured_output=json.dumps(SCHEMA), metadata={"campaign": "winter"},
        secrets={"example.com": SECRET},
    )

    response = alice_client.get(reverse("tasks_ui:compose") + f"?from={run.pk}")

    found = elements(response)
    assert found["id_metadata-0-key"]["value"] == "campaign"
    assert "open" in found["section-output"]
    html = response.content.decode()
    assert '<option value="o3" selected>' in html
    assert found["id_secrets-0-credential"].get("value") in (None, "")
    assert SECRET not in html
    assert SECRET_MASK not in html


def test_preview_masks_secrets(alice_client):
    data = compose_data(secrets={"example.com": SECRET}, metadata={"campaign": "winter"}, llm="o3")

    response = alice_client.post(reverse("tasks_ui:compose-preview"), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert SECRET not in html
    assert "&quot;example.com&quot;: &quot;********&quot;" in html
    assert "&quot;llm&quot;: &quot;o3&quot;" in html
    assert "dashboardRunId" in html
    assert "<form" not in html
    assert 'id="payload-preview"' in html


def test_preview_leaves_out_invalid_fields(alice_client):
    response = alice_client.post(reverse("tasks_ui:compose-preview"), compose_data(max_steps="0", llm="o3"))

    html = response.content.decode()
    assert "maxSteps" not in html
    assert "&quot;llm&quot;: &quot;o3&quot;" in html
    assert "Left out until valid: Max steps." in html


def test_api_422_lands_on_field(alice_client):
    # The sandbox's injected 422 names ["body", "task"], so the message belongs under the task field.
    faults.inject("POST /tasks", "422")

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(secrets={"example.com": SECRET}))

    assert response.status_code == 200
    found = elements(response)
    assert "id_task_error" in found
    html = response.content.decode()
    assert "The API rejected this: Value error, injected validation failure." in html
    assert "section--error" not in found["section-output"]["class"]
    assert found["id_secrets-0-credential"]["value"] == SECRET
    run = Run.objects.get()
    assert run.status == "rejected"
    assert run.error_status == 422


def test_api_error_without_field_shown_on_top(alice_client):
    faults.inject("POST /tasks", "402")

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data())

    assert response.status_code == 200
    assert "Add credits to the Browser Use project" in response.content.decode()
    assert Run.objects.get().status == "rejected"


def test_lost_launch_answer_redirects_with_warning(alice_client):
    faults.inject("POST /tasks", "lost")

    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(), follow=True)

    run = Run.objects.get()
    assert response.redirect_chain[-1][0] == reverse("tasks_ui:run-detail", args=[run.pk])
    html = response.content.decode()
    assert "Do not launch it again" in html
    # Rendering the run page already looked the task up by its run id.
    run.refresh_from_db()
    assert run.task_id == SandboxTask.objects.get().id


def test_viewer_cannot_compose(client, victor):
    client.force_login(victor)

    assert client.get(reverse("tasks_ui:compose")).status_code == 403
    assert client.post(reverse("tasks_ui:compose"), compose_data()).status_code == 403
    assert not Run.objects.exists()


# History


def test_history_shows_run(alice_client):
    run = launch_through_form(alice_client, task="Find the number of stars of the browser-use repo")

    response = alice_client.get(reverse("tasks_ui:history"))

    html = response.content.decode()
    assert "Find the number of stars of the browser-use repo" in html
    assert reverse("tasks_ui:run-detail", args=[run.pk]) in html
    assert f'id="run-{run.pk}"' in html


def test_history_htmx_returns_list_only(alice_client):
    launch_through_form(alice_client)

    response = alice_client.get(reverse("tasks_ui:history"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="run-list"')
    assert "<html" not in html
    assert "<h1>" not in html
    assert "Open example.com and report the page title" in html
    assert response["Vary"].count("HX-Request") == 1


@pytest.mark.usefixtures("slow_steps")
def test_history_polls_while_run_open(alice_client):
    launch_through_form(alice_client)

    response = alice_client.get(reverse("tasks_ui:history"))

    run_list = elements(response)["run-list"]
    assert run_list.get("hx-trigger", "").startswith("every")
    assert run_list["hx-get"] == reverse("tasks_ui:history")


def test_history_stops_polling_when_finished(alice_client):
    run = launch_through_form(alice_client)
    finish(run)

    response = alice_client.get(reverse("tasks_ui:history"), HTTP_HX_REQUEST="true")

    run_list = elements(response)["run-list"]
    assert "hx-trigger" not in run_list
    assert "hx-get" not in run_list
    assert 'data-status="finished"' in response.content.decode()


# Run detail


def test_detail_shows_finished_run(alice_client):
    run = launch_through_form(alice_client, structured_output=json.dumps(SCHEMA), judge="on")
    finish(run)

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert "The output matches the schema." in html
    assert f"Steps ({len(run.snapshot['steps'])})" in html
    assert "Judgement" in html
    assert "hx-trigger" not in elements(response)["run-live"]


@pytest.mark.usefixtures("slow_steps")
def test_detail_polls_while_running(alice_client):
    run = launch_through_form(alice_client)

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="run-live"')
    assert "Request as sent" not in html
    assert elements(response)["run-live"]["hx-trigger"].startswith("every")


def test_detail_task_without_steps(alice_client, alice, team):
    run = make_run(team, alice, status="stopped", snapshot={"steps": [], "outputFiles": []}, output=None)

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The task recorded no steps." in html
    assert "The task ended without output." in html


def test_detail_invalid_json_under_schema(alice_client, alice, team):
    raw = "The title is {Example Domain"
    run = make_run(
        team, alice, status="finished", snapshot={"steps": []}, output=raw,
        request={"task": "Report the title", "structuredOutput": json.dumps(SCHEMA)},
    )

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "The output is not valid JSON, although a schema was given" in html
    assert "The title is {Example Domain" in html


def test_detail_output_off_schema(alice_client, alice, team):
    run = make_run(
        team, alice, status="finished", snapshot={"steps": []}, output=json.dumps({"name": "x"}),
        request={"task": "Report the title", "structuredOutput": json.dumps(SCHEMA)},
    )

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert "The output does not match the schema" in html
    assert "&#x27;title&#x27; is a required property" in html


def test_detail_unknown_status(alice_client, alice, team, settings):
    # A status outside the documented set is shown as sent. The recent poll keeps the API out of this render.
    settings.STATUS_REFRESH_SECONDS = 3600
    run = make_run(team, alice, status="paused_by_operator", polled_at=timezone.now())

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "badge--paused_by_operator" in html
    assert ">paused_by_operator<" in html
    assert elements(response)["run-live"]["hx-trigger"].startswith("every")
    history = alice_client.get(reverse("tasks_ui:history"))
    assert 'data-status="paused_by_operator"' in history.content.decode()


def test_detail_refresh_failure_marked_stale(alice_client):
    run = launch_through_form(alice_client)
    faults.inject("GET /tasks/{task_id}", "500")

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))

    html = response.content.decode()
    assert "the last refresh failed" in html
    assert "stale" in html
    assert Run.objects.get().poll_failures == 1


def test_detail_of_other_team_is_404(client, oscar, alice, team):
    run = make_run(team, alice, status="finished", snapshot={})
    client.force_login(oscar)

    assert client.get(reverse("tasks_ui:run-detail", args=[run.pk])).status_code == 404


@pytest.mark.usefixtures("slow_steps")
def test_stop_view_stops_task(alice_client):
    run = launch_through_form(alice_client)

    response = alice_client.post(reverse("tasks_ui:run-stop", args=[run.pk]), follow=True)

    run.refresh_from_db()
    assert run.status == "stopped"
    assert "The task is stopped." in response.content.decode()
    assert SandboxTask.objects.get().status == "stopped"


# Downloads


def test_logs_redirect_to_fresh_link(alice_client):
    run = finish(launch_through_form(alice_client))

    response = alice_client.get(reverse("tasks_ui:run-logs", args=[run.pk]))

    assert response.status_code == 302
    assert response.url.startswith("/sandbox/files/download/")
    assert response.url.endswith(f"/{run.task_id}.log")
    download = alice_client.get(response.url)
    assert download.status_code == 200
    assert f"task {run.task_id} created" in download.content.decode()
    assert "status: finished" in download.content.decode()


def test_output_file_redirect_to_fresh_link(alice_client):
    run = finish(launch_through_form(alice_client, structured_output=json.dumps(SCHEMA)))
    file = run.snapshot["outputFiles"][0]

    response = alice_client.get(reverse("tasks_ui:run-output-file", args=[run.pk, file["id"]]))

    assert response.status_code == 302
    assert response.url.endswith("/result.json")
    download = alice_client.get(response.url)
    assert download.status_code == 200
    assert json.loads(download.content) == json.loads(run.output)


def test_output_file_unknown_id_returns_to_run(alice_client):
    run = finish(launch_through_form(alice_client))

    response = alice_client.get(reverse("tasks_ui:run-output-file", args=[run.pk, uuid.uuid4()]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("tasks_ui:run-detail", args=[run.pk])
    assert "The file link could not be fetched" in response.content.decode()


# Secrets


def test_secret_never_rendered_or_stored(alice_client):
    data = compose_data(secrets={"example.com": SECRET}, allowed_domains="example.com")
    preview = alice_client.post(reverse("tasks_ui:compose-preview"), data)
    launched = alice_client.post(reverse("tasks_ui:compose"), data)
    run = Run.objects.get()
    finish(run)

    pages = {
        "preview": preview,
        "launch": launched,
        "detail": alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk])),
        "detail partial": alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]), HTTP_HX_REQUEST="true"),
        "history": alice_client.get(reverse("tasks_ui:history")),
        "history partial": alice_client.get(reverse("tasks_ui:history"), HTTP_HX_REQUEST="true"),
        "run again": alice_client.get(reverse("tasks_ui:compose") + f"?from={run.pk}"),
    }
    for name, response in pages.items():
        assert SECRET not in response.content.decode(), name
    assert SECRET not in json.dumps(run.request)
    assert run.request["secrets"] == {"example.com": SECRET_MASK}
    assert SECRET not in json.dumps(run.snapshot)
    assert SECRET not in json.dumps(SandboxTask.objects.get().request)
    assert "&quot;example.com&quot;: &quot;********&quot;" in pages["detail"].content.decode()
