"""Fifty launches while every third create response is lost: exactly fifty tasks upstream and fifty runs."""

import pytest
from django.urls import reverse

from tasks_ui.models import TERMINAL_STATUSES, Run
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.models import SandboxTask

from .conftest import compose_data, wait_until

pytestmark = pytest.mark.django_db

LAUNCHES = 50


def test_fifty_launches_with_lost_responses(alice_client, settings):
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = LAUNCHES + 10
    unknown_after_launch = 0
    for number in range(1, LAUNCHES + 1):
        if number % 3 == 0:
            faults.inject("POST /tasks", "lost")
        response = alice_client.post(reverse("tasks_ui:compose"), compose_data(task=f"Launch number {number}"))
        assert response.status_code == 302
        unknown_after_launch += Run.objects.filter(task_text=f"Launch number {number}", status="unknown").count()

    assert unknown_after_launch == LAUNCHES // 3

    # The history page follows every run, finding the lost ones by the run id in their metadata.
    def all_settled():
        alice_client.get(reverse("tasks_ui:history") + "?page=1")
        alice_client.get(reverse("tasks_ui:history") + "?page=2")
        return set(Run.objects.values_list("status", flat=True)) <= TERMINAL_STATUSES

    wait_until(all_settled, timeout=30)

    assert SandboxTask.objects.count() == LAUNCHES
    assert Run.objects.count() == LAUNCHES
    assert Run.objects.filter(task_id__isnull=True).count() == 0
    assert len(set(Run.objects.values_list("task_id", flat=True))) == LAUNCHES
    upstream_run_ids = {task.request["metadata"]["dashboardRunId"] for task in SandboxTask.objects.all()}
    assert upstream_run_ids == {str(pk) for pk in Run.objects.values_list("pk", flat=True)}
    history = alice_client.get(reverse("tasks_ui:history")).content.decode()
    assert "Page 1 of 2" in history
