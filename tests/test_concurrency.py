"""Two members launching and stopping at the same moment, on PostgreSQL, leave consistent records."""

import threading

import pytest
from django.db import connection, connections

from tasks_ui.models import AuditEvent, Run
from tasks_ui.sandbox.models import SandboxTask
from tasks_ui.services import runs as services

pytestmark = pytest.mark.django_db(transaction=True)


def _in_threads(*functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def run(function):
        try:
            barrier.wait(timeout=10)
            function()
        except Exception as error:  # noqa: BLE001 - reported to the test thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(function,)) for function in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_simultaneous_launch_and_stop(alice, bob, team):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; run with DATABASE_URL=postgres:///dashboard")

    def launch(user, text):
        return lambda: services.run_launch(team=team, user=user, body={"task": text}, secrets={})

    _in_threads(launch(alice, "Alice at the same time"), launch(bob, "Bob at the same time"))
    runs = {run.launched_by.username: run for run in Run.objects.select_related("launched_by", "team")}
    assert set(runs) == {"alice", "bob"}
    assert all(run.task_id and run.status == "created" for run in runs.values())

    # Each stops the other's run, twice, all at once.
    def stop(user, run):
        return lambda: services.run_stop(run=Run.objects.select_related("team").get(pk=run.pk), actor=user)

    _in_threads(stop(alice, runs["bob"]), stop(bob, runs["alice"]), stop(alice, runs["bob"]), stop(bob, runs["alice"]))

    assert SandboxTask.objects.count() == 2
    assert set(SandboxTask.objects.values_list("status", flat=True)) == {"stopped"}
    for run in Run.objects.all():
        assert run.status == "stopped"
        assert run.snapshot["status"] == "stopped"
    assert AuditEvent.objects.filter(action="run.launched").count() == 2
    assert AuditEvent.objects.filter(action="run.stopped").count() == 4
