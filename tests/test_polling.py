"""Status reads are shared: many open tabs cost the API no more calls than one tab."""

import pytest
from django.test import Client
from django.urls import reverse

from tasks_ui.models import Run
from tasks_ui.sandbox import api as sandbox_api

from .conftest import compose_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def status_calls(monkeypatch):
    calls = []
    real_dispatch = sandbox_api.dispatch

    def counting_dispatch(**kwargs):
        if kwargs["method"] == "GET" and kwargs["path"].startswith("/tasks/"):
            calls.append(kwargs["path"])
        return real_dispatch(**kwargs)

    monkeypatch.setattr(sandbox_api, "dispatch", counting_dispatch)
    return calls


def test_ten_tabs_cost_one_read_per_interval(alice, bob, settings, status_calls):
    settings.STATUS_REFRESH_SECONDS = 60
    settings.SANDBOX_STEP_SECONDS = 30
    tabs = []
    for person in (alice, bob) * 5:
        tab = Client()
        tab.force_login(person)
        tabs.append(tab)
    for text in ("first", "second", "third"):
        tabs[0].post(reverse("tasks_ui:compose"), compose_data(task=text))
    Run.objects.update(polled_at=None)
    status_calls.clear()

    for tab in tabs:
        response = tab.get(reverse("tasks_ui:history"), HTTP_HX_REQUEST="true")
        assert 'hx-trigger="every 3s"' in response.content.decode()

    # One read per open run, however many tabs show it.
    assert len(status_calls) == 3
    assert len(set(status_calls)) == 3


def test_reads_resume_after_interval(alice_client, settings, status_calls):
    settings.SANDBOX_STEP_SECONDS = 30
    alice_client.post(reverse("tasks_ui:compose"), compose_data())
    status_calls.clear()

    settings.STATUS_REFRESH_SECONDS = 60
    alice_client.get(reverse("tasks_ui:history"))
    assert status_calls == []

    settings.STATUS_REFRESH_SECONDS = 0
    alice_client.get(reverse("tasks_ui:history"))
    assert len(status_calls) == 1


def test_finished_runs_are_not_read(alice_client, status_calls):
    alice_client.post(reverse("tasks_ui:compose"), compose_data())
    run = Run.objects.get()
    Run.objects.filter(pk=run.pk).update(status="finished", snapshot={"status": "finished"})
    status_calls.clear()

    response = alice_client.get(reverse("tasks_ui:history"), HTTP_HX_REQUEST="true")

    assert status_calls == []
    assert "hx-trigger" not in response.content.decode()
