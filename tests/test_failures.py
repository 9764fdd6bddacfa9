"""The dashboard under every upstream failure: each sandbox fault injected on launch, refresh, stop and detail,
checking what the user sees and what is stored."""

import logging
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from tasks_ui.models import Run
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.models import SandboxTask

from .conftest import compose_data, wait_until

pytestmark = pytest.mark.django_db

SECRET = "hunter2-failure-secret"
# Faults whose response does not tell whether the request was carried out.
UNKNOWN_OUTCOME = ["500", "502_json", "502_html", "timeout", "disconnect", "malformed", "lost"]
# Faults that reject the request, with the words the user must read.
REJECTIONS = {
    "401": "rejected the API key",
    "402": "Insufficient credits",
    "402_cap": "monthly spend limit (cap $50, spent $50.25)",
    "404": "no such route",
    "422": "injected validation failure",
    "429_capacity": "concurrent browser sessions of this project are busy",
    "429_rate": "Try again in 5 seconds",
    "429_edge": "Try again in 300 seconds",
}


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _launch(client, **fields):
    return client.post(
        reverse("tasks_ui:compose"),
        compose_data(task="Find the cheapest flight", secrets={"example.com": SECRET}, metadata={"team": "ops"}, **fields),
    )


@pytest.mark.parametrize("kind", sorted(REJECTIONS))
def test_launch_rejected_keeps_form(kind, alice_client, caplog):
    caplog.set_level(logging.WARNING)
    faults.inject("POST /tasks", kind)

    response = _launch(alice_client)

    page = response.content.decode()
    assert response.status_code == 200
    assert REJECTIONS[kind] in page.replace("&#x27;", "'")
    assert "Find the cheapest flight" in page
    assert f'value="{SECRET}"' in page
    assert 'value="ops"' in page
    run = Run.objects.get()
    assert run.status == "rejected"
    assert SECRET not in str(run.request)
    assert SandboxTask.objects.count() == 0
    logged = [record.getMessage() for record in caplog.records if "Launch failed" in record.getMessage()]
    assert len(logged) == 1
    assert str(run.pk) in logged[0]
    assert SECRET not in caplog.text


def test_launch_422_lands_on_field(alice_client):
    faults.inject("POST /tasks", "422")

    response = _launch(alice_client)

    assert "injected validation failure" in str(response.context["form"].task.errors["task"])


def test_launch_capacity_links_active_sessions(alice_client):
    faults.inject("POST /tasks", "429_capacity")

    page = _launch(alice_client).content.decode()

    assert "All 25 concurrent browser sessions" in page or "concurrent browser sessions" in page
    assert reverse("tasks_ui:sessions") + "?status=active" in page


def test_rate_limit_is_honoured(alice_client):
    faults.inject("POST /tasks", "429_rate")
    _launch(alice_client)

    second = _launch(alice_client)

    assert "nothing was sent" in second.content.decode()
    assert Run.objects.count() == 1
    assert SandboxTask.objects.count() == 0


@pytest.mark.parametrize("kind", UNKNOWN_OUTCOME)
def test_launch_unknown_outcome_is_reconciled(kind, alice_client):
    faults.inject("POST /tasks", kind)

    response = _launch(alice_client)

    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("tasks_ui:run-detail", args=[run.pk])
    assert run.status == "unknown"
    detail = alice_client.get(response["Location"]).content.decode()

    run.refresh_from_db()
    if kind == "lost":
        # The task was created before its response was lost, so it is found by the run id and never launched twice.
        assert run.task_id is not None
        assert run.status in ("created", "started", "finished")
        assert SandboxTask.objects.count() == 1
    else:
        # Until the run's task is found or known to be missing, nothing offers to launch it again.
        assert run.status == "unknown"
        assert "Edit and run again" not in detail
        assert "Launch again" not in detail
        Run.objects.filter(pk=run.pk).update(launched_at=timezone.now() - timedelta(minutes=2))
        detail = alice_client.get(response["Location"]).content.decode()
        run.refresh_from_db()
        assert run.status == "not_started"
        assert "Launch again" in detail
        assert SandboxTask.objects.count() == 0


@pytest.fixture
def running_run(alice_client, settings):
    settings.SANDBOX_STEP_SECONDS = 30
    _launch(alice_client)
    run = Run.objects.get()
    alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk]))
    return run


@pytest.mark.parametrize("kind", faults.KIND_NAMES)
def test_refresh_failure_keeps_last_state(kind, alice_client, running_run, caplog):
    caplog.set_level(logging.WARNING)
    before = Run.objects.get().status
    faults.inject("GET /tasks/{task_id}/status", kind)

    page = alice_client.get(reverse("tasks_ui:history")).content.decode()

    run = Run.objects.get()
    assert run.status == before
    assert run.status not in ("failed", "rejected")
    assert run.poll_failures == 1
    assert run.error
    assert "stale" in page
    assert len([r for r in caplog.records if "Refresh failed" in r.getMessage()]) == 1

    alice_client.get(reverse("tasks_ui:history"))
    run.refresh_from_db()
    if kind in ("429_rate", "429_edge"):
        # Retry-After is honoured: the run is not read again before it has passed.
        assert run.poll_failures == 1
        assert run.polled_at > timezone.now() + timedelta(seconds=4)
    else:
        # The next refresh, after the fault, clears the stale mark.
        assert run.poll_failures == 0


@pytest.mark.parametrize("kind", faults.KIND_NAMES)
def test_detail_failure_shows_last_state(kind, alice_client, running_run):
    faults.inject("GET /tasks/{task_id}", kind)

    response = alice_client.get(reverse("tasks_ui:run-detail", args=[running_run.pk]))

    assert response.status_code == 200
    assert "may be out of date" in response.content.decode()
    assert Run.objects.get().status in ("created", "started")


@pytest.mark.parametrize("kind", faults.KIND_NAMES)
def test_stop_failure_reads_status_again(kind, alice_client, running_run):
    faults.inject("PATCH /tasks/{task_id}", kind)

    response = alice_client.post(reverse("tasks_ui:run-stop", args=[running_run.pk]), follow=True)

    page = response.content.decode()
    run = Run.objects.get()
    if kind == "lost":
        # The stop was carried out; reading the status again shows it.
        assert run.status == "stopped"
        assert "The task is stopped" in page
    else:
        assert "Stopping failed" in page
        assert run.status in ("created", "started")
    # A second click is safe and stops the task.
    alice_client.post(reverse("tasks_ui:run-stop", args=[running_run.pk]))
    assert Run.objects.get().status == "stopped"
    assert wait_until(lambda: SandboxTask.objects.get().status == "stopped")


def test_long_running_task_is_still_followed(alice_client, running_run):
    Run.objects.filter(pk=running_run.pk).update(launched_at=timezone.now() - timedelta(hours=5))

    alice_client.get(reverse("tasks_ui:history"))

    run = Run.objects.get()
    assert run.status in ("created", "started")
    assert run.polled_at > timezone.now() - timedelta(seconds=5)
