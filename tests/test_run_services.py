"""The run services against the sandbox: launch, refresh, stop, lost responses and failed refreshes.

Everything runs for real: the service layer, the httpx client, the in-process sandbox and the
database. The sandbox's own tables (SandboxTask) show what reached the simulated API.
"""

import json
import time
from decimal import Decimal

import pytest

from tasks_ui import client as api
from tasks_ui.models import Run
from tasks_ui.payloads import SECRET_MASK
from tasks_ui.sandbox import faults, simulation
from tasks_ui.sandbox.models import SandboxSession, SandboxTask
from tasks_ui.selectors.runs import run_judgement
from tasks_ui.services import runs as services

pytestmark = pytest.mark.django_db

TASK = "List the top 5 posts on Hacker News with their points"


@pytest.fixture
def slow_steps(settings):
    """Make a task run for seconds, so a test can act on it before it ends by itself."""
    settings.SANDBOX_STEP_SECONDS = 2


def launch(team, user, *, secrets=None, **body) -> Run:
    return services.run_launch(team=team, user=user, body={"task": TASK, **body}, secrets=secrets or {})


def refresh_until(run: Run, statuses: set[str], timeout: float = 5.0) -> list[str]:
    """Refresh `run` until its status is in `statuses`, and return every distinct status seen, in order."""
    seen = [run.status]
    deadline = time.monotonic() + timeout
    while run.status not in statuses:
        if time.monotonic() > deadline:
            raise AssertionError(f"run stayed {run.status!r}; seen {seen}")
        time.sleep(0.005)
        services.run_refresh(run=run)
        if run.status != seen[-1]:
            seen.append(run.status)
    return seen


def test_launch_stores_ids_and_masked_request(team, alice):
    run = launch(team, alice, secrets={"example.com": "hunter2"}, metadata={"campaign": "winter"}, maxSteps=20)

    run.refresh_from_db()
    task = SandboxTask.objects.get()
    assert run.status == "created"
    assert run.task_id == task.id
    assert run.session_id == task.session_id
    assert run.launched_by == alice
    assert run.team == team
    assert run.task_text == TASK
    assert run.llm == "browser-use-2.0"
    assert run.request == {
        "task": TASK,
        "maxSteps": 20,
        "metadata": {"campaign": "winter", "dashboardRunId": str(run.pk)},
        "secrets": {"example.com": SECRET_MASK},
    }
    assert "hunter2" not in json.dumps(run.request)


def test_launch_sends_run_id_in_metadata(team, alice):
    run = launch(team, alice, metadata={"campaign": "winter"})

    sent = SandboxTask.objects.get(pk=run.task_id).request
    assert sent["metadata"] == {"campaign": "winter", "dashboardRunId": str(run.pk)}


def test_launch_sends_secret_values(team, alice):
    # The sandbox keeps only the domains it received, so check the secrets reached it under their domain.
    run = launch(team, alice, secrets={"example.com": "hunter2"})

    sent = SandboxTask.objects.get(pk=run.task_id).request
    assert sent["secrets"] == ["example.com"]


def test_refresh_walks_created_started_finished(team, alice):
    run = launch(team, alice)

    seen = refresh_until(run, {"finished"})

    assert seen == ["created", "started", "finished"]
    run.refresh_from_db()
    assert run.status == "finished"
    assert run.is_success is True
    assert run.started_at is not None
    assert run.finished_at >= run.started_at
    assert run.output.startswith("Done.")
    assert run.snapshot["id"] == str(run.task_id)
    assert len(run.snapshot["steps"]) == SandboxTask.objects.get().planned_steps


def test_finished_run_not_read_again(team, alice):
    run = launch(team, alice)
    refresh_until(run, {"finished"})
    faults.inject("GET /tasks/{task_id}", "500")
    faults.inject("GET /tasks/{task_id}/status", "500")

    services.run_refresh(run=run, full=True)

    assert run.poll_failures == 0
    assert faults.take("GET /tasks/{task_id}") is not None


@pytest.mark.parametrize(
    ("max_steps", "verdict"),
    [pytest.param(None, True, id="completes"), pytest.param(2, False, id="step-limit")],
)
def test_judge_verdict_and_cost_stored(team, alice, max_steps, verdict):
    extra = {"maxSteps": max_steps} if max_steps else {}
    run = launch(team, alice, judge=True, judgeGroundTruth="Five titles with points", llm="o3", **extra)

    refresh_until(run, {"finished"})

    run.refresh_from_db()
    task = SandboxTask.objects.get()
    steps = len(task.steps)
    assert run.judge_verdict is verdict
    assert run.is_success is verdict
    assert run.cost == task.cost
    assert run.cost == simulation.INIT_COST + steps * simulation.STEP_COST["o3"]
    assert run.cost > Decimal("0")
    judgement = run_judgement(run)
    assert judgement["verdict"] is verdict
    assert judgement["ground_truth"] == "Five titles with points"


@pytest.mark.usefixtures("slow_steps")
def test_stop_running_task(team, alice):
    run = launch(team, alice)

    services.run_stop(run=run)

    run.refresh_from_db()
    assert run.status == "stopped"
    assert run.is_success is False
    assert run.finished_at is not None
    assert SandboxTask.objects.get().status == "stopped"


@pytest.mark.usefixtures("slow_steps")
def test_stop_twice(team, alice):
    run = launch(team, alice)
    services.run_stop(run=run)
    first_finished_at = Run.objects.get().finished_at

    services.run_stop(run=run)

    run.refresh_from_db()
    assert run.status == "stopped"
    assert run.finished_at == first_finished_at
    assert SandboxTask.objects.get().status == "stopped"


def test_stop_finished_task(team, alice):
    run = launch(team, alice)
    refresh_until(run, {"finished"})

    services.run_stop(run=run)

    run.refresh_from_db()
    assert run.status == "finished"
    assert run.is_success is True
    assert SandboxTask.objects.get().status == "finished"


@pytest.mark.usefixtures("slow_steps")
def test_stop_with_session(team, alice):
    run = launch(team, alice)

    services.run_stop(run=run, with_session=True)

    assert run.status == "stopped"
    assert SandboxSession.objects.get(pk=run.session_id).status == "stopped"


def test_stop_error_reads_status_again(team, alice):
    run = launch(team, alice)
    refresh_until(run, {"finished"})
    faults.inject("PATCH /tasks/{task_id}", "500")

    services.run_stop(run=run)

    assert run.status == "finished"


@pytest.mark.usefixtures("slow_steps")
def test_stop_error_on_running_task_raises(team, alice):
    run = launch(team, alice)
    faults.inject("PATCH /tasks/{task_id}", "500")

    with pytest.raises(services.RunActionFailed, match="Stopping failed"):
        services.run_stop(run=run)

    assert run.status in {"created", "started"}


def test_stop_without_task_raises(team, alice):
    run = Run.objects.create(team=team, launched_by=alice, task_text=TASK, llm="o3", request={"task": TASK}, status="rejected")

    with pytest.raises(services.RunActionFailed, match="no task"):
        services.run_stop(run=run)


def test_rejected_launch_stored(team, alice):
    # The form would never build this body, because the API does not support this model.
    with pytest.raises(services.LaunchFailed) as raised:
        launch(team, alice, llm="gpt-99", secrets={"example.com": "hunter2"})

    run = Run.objects.get()
    assert isinstance(raised.value.error, api.ApiValidationError)
    assert raised.value.run.pk == run.pk
    assert raised.value.error.errors[0]["loc"] == ["body", "llm"]
    assert run.status == "rejected"
    assert run.error_status == 422
    assert run.task_id is None
    assert run.request["secrets"] == {"example.com": SECRET_MASK}
    assert "hunter2" not in json.dumps(run.request) + run.error
    assert not SandboxTask.objects.exists()


def test_rejected_run_not_refreshed(team, alice):
    with pytest.raises(services.LaunchFailed):
        launch(team, alice, maxSteps=0)
    run = Run.objects.get()

    services.run_refresh(run=run, full=True)

    assert run.status == "rejected"
    assert run.polled_at is None


def test_lost_answer_found_by_run_id(team, alice):
    faults.inject("POST /tasks", "lost")

    with pytest.raises(services.LaunchFailed) as raised:
        launch(team, alice, metadata={"campaign": "winter"})

    run = Run.objects.get()
    assert raised.value.error.outcome_unknown
    assert run.status == "unknown"
    assert run.task_id is None

    services.run_refresh(run=run)

    task = SandboxTask.objects.get()
    run.refresh_from_db()
    assert run.task_id == task.id
    assert run.session_id == task.session_id
    assert run.status in {"created", "started", "finished"}
    assert run.error == ""
    refresh_until(run, {"finished"})
    assert SandboxTask.objects.count() == 1
    assert Run.objects.get().task_id == task.id


def test_lost_answer_finds_right_task_among_others(team, alice):
    other = launch(team, alice)
    faults.inject("POST /tasks", "lost")
    with pytest.raises(services.LaunchFailed):
        launch(team, alice)
    run = Run.objects.get(status="unknown")

    services.run_refresh(run=run)

    run.refresh_from_db()
    other.refresh_from_db()
    assert run.task_id is not None
    assert run.task_id != other.task_id
    assert SandboxTask.objects.get(pk=run.task_id).request["metadata"]["dashboardRunId"] == str(run.pk)


def test_unknown_launch_without_task(team, alice):
    # A timeout before the sandbox acted: no task exists, so the run stays unknown with a plain note.
    faults.inject("POST /tasks", "timeout")
    with pytest.raises(services.LaunchFailed):
        launch(team, alice)
    run = Run.objects.get()

    services.run_refresh(run=run)

    assert run.status == "unknown"
    assert run.task_id is None
    assert "No task with this run's id exists" in run.error
    assert not SandboxTask.objects.exists()


def test_refresh_error_keeps_status(team, alice):
    run = launch(team, alice)
    faults.inject("GET /tasks/{task_id}/status", "500")

    services.run_refresh(run=run)

    run.refresh_from_db()
    assert run.status == "created"
    assert run.poll_failures == 1
    assert "status 500" in run.error


def test_refresh_recovers_after_error(team, alice):
    run = launch(team, alice)
    faults.inject("GET /tasks/{task_id}/status", "500", count=2)
    services.run_refresh(run=run)
    services.run_refresh(run=run)
    assert run.poll_failures == 2

    refresh_until(run, {"finished"})

    run.refresh_from_db()
    assert run.poll_failures == 0
    assert run.error == ""


def test_runs_refresh_updates_each_open_run(team, alice):
    first, second = launch(team, alice), launch(team, alice, task="Find the weather in Cheongju")
    time.sleep(0.4)

    services.runs_refresh(team=team, runs=[first, second])

    assert first.status == "finished"
    assert second.status == "finished"
    assert Run.objects.filter(status="finished").count() == 2
