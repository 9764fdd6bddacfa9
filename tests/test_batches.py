"""Batches: reading CSV files, mapping and checking rows, the background worker, controls and the export.

The worker tests run django-tasks-db's own `Worker` (what `manage.py db_worker` runs) against the
in-process sandbox, and count the sandbox's SandboxTask rows to prove that no row became two tasks.
"""

import csv
import io
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tasks_ui.client import get_client
from tasks_ui.forms import RUN_ID_METADATA_KEY
from tasks_ui.models import Batch, BatchRow, Run
from tasks_ui.payloads import SECRET_MASK
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.models import SandboxSession, SandboxTask
from tasks_ui.services import batches as services
from tasks_ui.services import runs as run_services
from tasks_ui.services import templates as template_services
from tests.test_templates import variable

SCHEMA = '{"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}'


@pytest.fixture
def fast_batches(settings, monkeypatch):
    """Take worker steps often and make waits short, with room for five concurrent sessions.

    A run whose task is not found is "not started" at once rather than after a minute.
    """
    settings.BATCH_TICK_SECONDS = 0.05
    settings.BATCH_CAPACITY_RETRY_SECONDS = 0.2
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 5
    monkeypatch.setattr(run_services, "RECONCILE_GIVE_UP", timedelta(0))
    return settings


def make_template(team, owner, request=None, variables=None, secrets=None):
    request = request or {"task": "Look up {{city}} and report its weather", "startUrl": "{{site}}"}
    variables = variables if variables is not None else [variable("city"), variable("site", "url", "https://weather.example.com")]
    return template_services.template_create(
        team=team, user=owner, name="Weather", description="", shared=True, request=request, variables=variables,
        secrets=secrets or {},
    )


def csv_bytes(rows: list[list[str]], *, delimiter=",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode()


def make_batch(template, user, rows: list[list[str]]) -> Batch:
    return services.batch_create(template=template, user=user, file_name="cities.csv", data=csv_bytes(rows))


def run_worker(until, timeout: float = 60.0) -> None:
    """Run the db_worker's Worker on the queued tasks again and again until `until()` is true."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"The batch did not get there within {timeout} s")
        worker = Worker(
            queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
            max_tasks=None, worker_id="test-worker", excluded_queue_names=[],
        )
        worker.run()
        time.sleep(0.02)


def batch_status(batch: Batch) -> str:
    return Batch.objects.get(pk=batch.pk).status


def max_concurrent_sessions() -> int:
    """Return the most sandbox sessions that were active at one moment, from their start and end times."""
    events = []
    for started, finished in SandboxSession.objects.values_list("started_at", "finished_at"):
        events.append((started, 1))
        events.append((finished or timezone.now(), -1))
    active = highest = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):
        active += change
        highest = max(highest, active)
    return highest


# Reading the file

CSV_REJECTED = [
    pytest.param("Stadt,Größe\nKöln,groß\n".encode("latin-1"), "not UTF-8 text: byte 0xF6 on line 1", id="latin-1"),
    pytest.param(b"", "The file is empty.", id="empty"),
    pytest.param(b"  \n\n", "The file is empty.", id="blank"),
    pytest.param(b"city,site\n", "The file has a header but no rows.", id="header-only"),
    pytest.param(b"city,city\nParis,x\n", "names the column “city” more than once", id="duplicate-column"),
    pytest.param(b"city,,site\nParis,x,y\n", "Column 2 of the header has no name", id="unnamed-column"),
    pytest.param(b"city\n" + b"Paris\n" * 10_001, "more than 10,000 rows", id="too-many-rows"),
    pytest.param(b"city\x00\nParis\n", "NUL bytes", id="binary"),
]


@pytest.mark.parametrize("data, message", CSV_REJECTED)
def test_csv_rejected(data, message):
    with pytest.raises(services.CsvInvalid) as raised:
        services.parse_csv(data)

    assert message in raised.value.message


def test_csv_reads_quotes_bom_and_semicolons():
    quoted = services.parse_csv('\ufeffcity,note\n"Paris, France","two\nlines"\n\n"Rome",""\n'.encode())
    semicolons = services.parse_csv(b"city;note\nParis;a,b\n")

    assert quoted.columns == ["city", "note"]
    assert quoted.rows == [(1, {"city": "Paris, France", "note": "two\nlines"}, ""), (2, {"city": "Rome", "note": ""}, "")]
    assert semicolons.rows == [(1, {"city": "Paris", "note": "a,b"}, "")]


def test_csv_row_with_wrong_cell_count():
    parsed = services.parse_csv(b"city,site\nParis\nRome,x,y\nOslo,z\n")

    assert [problem for _, _, problem in parsed.rows] == [
        "This row has 1 cell but the header has 2 columns; check for a missing or extra separator.",
        "This row has 3 cells but the header has 2 columns; check for a missing or extra separator.",
        "",
    ]


def test_csv_exactly_max_rows_accepted():
    parsed = services.parse_csv(b"city\n" + b"Paris\n" * services.MAX_ROWS)

    assert len(parsed.rows) == services.MAX_ROWS


def test_formula_cells_warned():
    notes = services.formula_warnings({"a": "=HYPERLINK(1)", "b": "-12.5", "c": "@SUM(A1)", "d": "+x"}, ["a", "b", "c", "d"])

    assert notes == [
        "Column “a” starts with “=” like a spreadsheet formula; it is sent as text.",
        "Column “c” starts with “@” like a spreadsheet formula; it is sent as text.",
        "Column “d” starts with “+” like a spreadsheet formula; it is sent as text.",
    ]


@pytest.mark.parametrize("cell, exported", [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("a=b", "a=b"), ("", "")])
def test_export_cells_neutralised(cell, exported):
    assert services.spreadsheet_safe(cell) == exported


# Mapping and checking rows


@pytest.mark.django_db
def test_columns_mapped_by_name(team, alice):
    batch = make_batch(make_template(team, alice), alice, [["City", "notes"], ["Paris", "x"]])

    assert batch.mapping == {"city": "City"}
    assert services.mapping_errors(batch) == []
    assert batch.rows.get().status == BatchRow.QUEUED


@pytest.mark.django_db
def test_mapping_errors_named(team, alice):
    template = make_template(
        team, alice, {"task": "Log in to {{site}} as {{user}}", "secrets": {"login.example.com": SECRET_MASK}},
        [variable("site", "url"), variable("user", default="guest")],
    )
    batch = make_batch(template, alice, [["place"], ["https://a.example.com"]])
    batch.mapping = {"user": "missing", "nobody": "place"}

    assert services.mapping_errors(batch) == [
        "The column “missing” mapped to “user” is not in the file; choose another column.",
        "“nobody” is not a variable of the template; remove its mapping.",
        "Map a column to “site”; it is required and has no default.",
        "The template asks for the credential for login.example.com at each launch. A batch cannot ask, so edit the template to keep it.",
    ]
    with pytest.raises(template_services.TemplateError):
        services.batch_start(batch=batch, user=alice)


@pytest.mark.django_db
def test_invalid_rows_marked_with_reason(team, alice):
    batch = make_batch(make_template(team, alice), alice, [["city", "site"], ["Paris", ""], ["", "https://x.example.com"], ["Rome", "not a url"], ["Oslo"]])

    rows = {row.index: (row.status, row.error) for row in batch.rows.all()}

    assert rows == {
        1: (BatchRow.QUEUED, ""),
        2: (BatchRow.INVALID, "Enter a value for “city”; it is required and has no default."),
        3: (BatchRow.INVALID, "“not a url” is not a valid URL for “site”; use a form like https://example.com/page."),
        4: (BatchRow.INVALID, "This row has 1 cell but the header has 2 columns; check for a missing or extra separator."),
    }


@pytest.mark.django_db
def test_row_failing_form_rules_is_invalid(team, alice):
    template = make_template(team, alice, {"task": "Check {{domain}}", "allowedDomains": ["{{domain}}"]}, [variable("domain")])
    batch = make_batch(template, alice, [["domain"], ["example.com"], ["example.*"]])

    invalid = batch.rows.get(status=BatchRow.INVALID)

    assert invalid.index == 2
    assert invalid.error == "Allowed domains (from {{domain}}): “example.*” uses a wildcard top-level domain, which the API does not accept."


@pytest.mark.django_db
def test_mapping_change_checks_rows_again(team, alice):
    batch = make_batch(make_template(team, alice), alice, [["town", "site"], ["Paris", ""]])
    assert services.mapping_errors(batch) == ["Map a column to “city”; it is required and has no default."]

    services.batch_set_mapping(batch=batch, mapping={"city": "town", "site": ""})

    assert services.mapping_errors(batch) == []
    assert batch.rows.get().status == BatchRow.QUEUED


# The worker


@pytest.mark.django_db(transaction=True)
def test_batch_of_200_with_429s_and_lost_answers(fast_batches, client, team, alice):
    """200 rows, five concurrent sessions, capacity and rate 429s and lost responses: 200 tasks, no duplicates."""
    template = make_template(
        team, alice, {"task": "Look up {{city}}", "structuredOutput": SCHEMA, "maxSteps": 5}, [variable("city")]
    )
    cities = [f"=City {index}" if index == 7 else f"City {index}" for index in range(1, 201)]
    batch = make_batch(template, alice, [["city", "note"], *([city, f"n{index}"] for index, city in enumerate(cities))])
    faults.inject("POST /tasks", "429_capacity", 2)
    faults.inject("POST /tasks", "lost", 1)
    services.batch_start(batch=batch, user=alice)

    run_worker(lambda: BatchRow.objects.filter(batch=batch, status=BatchRow.LAUNCHED).count() >= 60)
    faults.inject("POST /tasks", "lost", 2)
    faults.inject("POST /tasks", "429_rate", 1)
    run_worker(lambda: batch_status(batch) == Batch.FINISHED, timeout=120)

    rows = BatchRow.objects.filter(batch=batch).select_related("run")
    assert rows.count() == 200
    assert [row.status for row in rows if row.status != BatchRow.LAUNCHED] == []
    assert {row.run.status for row in rows} == {"finished"}
    # Each 429 cost its row one more attempt; the three lost responses were found, not launched again.
    assert sum(row.attempts for row in rows) == 200 + 3
    assert SandboxTask.objects.count() == 200
    run_ids = [task.request["metadata"][RUN_ID_METADATA_KEY] for task in SandboxTask.objects.all()]
    assert sorted(run_ids) == sorted(str(row.run_id) for row in rows)
    assert Run.objects.count() == 200
    assert max_concurrent_sessions() <= 5
    # The worker waited out the 429's Retry-After of 5 s before the next launch.
    created = sorted(SandboxTask.objects.values_list("created_at", flat=True))
    assert max(later - earlier for earlier, later in zip(created, created[1:])) >= timedelta(seconds=4.9)

    client.force_login(alice)
    response = client.get(reverse("tasks_ui:batch-export", args=[batch.pk]))
    exported = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(exported) == 200
    assert list(exported[0]) == ["city", "note", "status", "error", "output", "output.title", "cost", "judge_verdict", "is_success", "run_url"]
    assert {line["status"] for line in exported} == {"finished"}
    assert all(line["output.title"] and line["cost"] for line in exported)
    assert exported[6]["city"] == "'=City 7"
    assert exported[0]["run_url"] == f"http://testserver/runs/{rows.get(index=1).run_id}/"


@pytest.mark.django_db(transaction=True)
def test_worker_restart_resumes_without_duplicates(fast_batches, team, alice):
    """A worker that died mid-batch left a step running, one row recorded but unsent and one sent but unanswered."""
    batch = make_batch(make_template(team, alice), alice, [["city"], *[[f"City {n}"] for n in range(1, 11)]])
    services.batch_start(batch=batch, user=alice)
    DBTaskResult.objects.update(status="RUNNING", worker_ids=["dead-worker"])
    long_ago = timezone.now() - timedelta(minutes=5)
    rows = list(batch.rows.order_by("index")[:2])
    runs = []
    for row in rows:
        body, secrets = services.prepare_row(batch, row.values)
        run = run_services.run_record(team=team, user=alice, body=body, secrets=secrets, template=batch.template_version.template)
        Run.objects.filter(pk=run.pk).update(launched_at=long_ago)
        BatchRow.objects.filter(pk=row.pk).update(status=BatchRow.LAUNCHING, run=run, attempts=1)
        runs.append(run)
    unsent_run, sent_run = runs
    get_client().create_task({"task": sent_run.task_text, "metadata": {RUN_ID_METADATA_KEY: str(sent_run.pk)}})

    services.schedule_step(batch.pk, delay=0)
    run_worker(lambda: batch_status(batch) == Batch.FINISHED)

    assert SandboxTask.objects.count() == 10
    assert batch.rows.filter(status=BatchRow.LAUNCHED).count() == 10
    unsent, sent = BatchRow.objects.get(pk=rows[0].pk), BatchRow.objects.get(pk=rows[1].pk)
    assert (sent.run_id, sent.attempts) == (sent_run.pk, 1)
    assert unsent.attempts == 2
    assert Run.objects.get(pk=unsent_run.pk).status == "not_started"
    assert unsent.run_id != unsent_run.pk


@pytest.mark.django_db(transaction=True)
def test_two_workers_share_batch(fast_batches, team, alice):
    """Two workers stepping the same batch at the same moment, on PostgreSQL: every row becomes one task."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL, where row claims can race; run with DATABASE_URL=postgres:///dashboard")
    batch = make_batch(make_template(team, alice), alice, [["city"], *[[f"City {n}"] for n in range(1, 41)]])
    services.batch_start(batch=batch, user=alice)
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            deadline = time.monotonic() + 60
            while batch_status(batch) != Batch.FINISHED and time.monotonic() < deadline:
                services.batch_advance(batch.pk)
        except Exception as error:  # noqa: BLE001 - reported to the test thread below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)

    assert errors == []
    assert batch_status(batch) == Batch.FINISHED
    assert SandboxTask.objects.count() == 40
    run_ids = {task.request["metadata"][RUN_ID_METADATA_KEY] for task in SandboxTask.objects.all()}
    assert run_ids == {str(run_id) for run_id in batch.rows.values_list("run_id", flat=True)}
    assert batch.rows.filter(status=BatchRow.LAUNCHED).count() == 40


@pytest.mark.django_db(transaction=True)
def test_claimed_row_not_launched_twice(fast_batches, team, alice, monkeypatch):
    """When another worker claims the row between this worker's read and its update, this one sends nothing
    and keeps no run record."""
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"]])
    services.batch_start(batch=batch, user=alice)
    record = run_services.run_record

    def other_worker_claims_first(**kwargs):
        BatchRow.objects.filter(batch=batch).update(status=BatchRow.LAUNCHING)
        return record(**kwargs)

    monkeypatch.setattr(run_services, "run_record", other_worker_claims_first)
    outcome = services._launch_next_row(Batch.objects.get(pk=batch.pk), get_client())

    assert outcome == "skipped"
    assert SandboxTask.objects.count() == 0
    assert Run.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_rate_limit_sets_resume_at(fast_batches, team, alice):
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"], ["Rome"]])
    services.batch_start(batch=batch, user=alice)
    faults.inject("POST /tasks", "429_rate", 1)
    before = timezone.now()

    services.batch_advance(batch.pk)
    services.batch_advance(batch.pk)

    batch.refresh_from_db()
    assert before + timedelta(seconds=4.9) <= batch.resume_at <= timezone.now() + timedelta(seconds=5)
    assert SandboxTask.objects.count() == 0
    assert list(batch.rows.values_list("status", "attempts")) == [(BatchRow.QUEUED, 1), (BatchRow.QUEUED, 0)]
    assert Run.objects.count() == 0


@pytest.mark.django_db
def test_rate_limit_caps_later_steps(fast_batches, team, alice, monkeypatch):
    """After a 429 for the request rate, each step launches only what got through before it, then probes up."""
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"]])
    outcomes = iter(["launched"] * 4 + ["rate limited"] + ["launched"] * 1000)
    calls = []

    def fake_launch(batch, client):
        calls.append(batch.pk)
        return next(outcomes)

    monkeypatch.setattr(services, "_launch_next_row", fake_launch)
    monkeypatch.setattr(services, "_free_sessions", lambda batch, client, budget: 25)

    def step() -> int:
        before = len(calls)
        services._launch_queued_rows(batch, get_client(), services._RequestBudget(100))
        return len(calls) - before

    assert step() == 5
    assert [step() for _ in range(services.CAP_PROBE_STEPS)] == [4] * services.CAP_PROBE_STEPS
    assert step() == 5


@pytest.mark.django_db(transaction=True)
def test_auth_error_pauses_batch(fast_batches, team, alice):
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"], ["Rome"]])
    services.batch_start(batch=batch, user=alice)
    faults.inject("POST /tasks", "402", 1)

    services.batch_advance(batch.pk)

    assert batch_status(batch) == Batch.PAUSED
    failed = batch.rows.get(index=1)
    assert (failed.status, failed.error) == (BatchRow.FAILED, "Insufficient credits. Add credits to the Browser Use project.")
    assert batch.rows.get(index=2).status == BatchRow.QUEUED


@pytest.mark.django_db(transaction=True)
def test_unfound_task_launched_again(fast_batches, team, alice):
    """A create call that timed out before reaching the API leaves no task, so the row is launched again once."""
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"]])
    services.batch_start(batch=batch, user=alice)
    faults.inject("POST /tasks", "timeout", 1)

    run_worker(lambda: batch_status(batch) == Batch.FINISHED)

    row = batch.rows.get()
    assert (row.status, row.attempts) == (BatchRow.LAUNCHED, 2)
    assert SandboxTask.objects.count() == 1
    assert sorted(Run.objects.values_list("status", flat=True)) == ["finished", "not_started"]


# Controls and pages


@pytest.mark.django_db(transaction=True)
def test_pause_resume_cancel_and_retry(fast_batches, alice_client, team, alice):
    fast_batches.SANDBOX_CONCURRENT_SESSION_LIMIT = 2
    batch = make_batch(make_template(team, alice), alice, [["city"], *[[f"City {n}"] for n in range(1, 7)]])
    url = lambda name: reverse(f"tasks_ui:batch-{name}", args=[batch.pk])  # noqa: E731

    alice_client.post(url("start"))
    alice_client.post(url("pause"))
    run_worker(lambda: not services.batch_needs_worker(batch.pk))
    assert SandboxTask.objects.count() == 0

    alice_client.post(url("resume"))
    faults.inject("POST /tasks", "422", 1)
    run_worker(lambda: SandboxTask.objects.count() >= 2)
    alice_client.post(url("cancel"))
    run_worker(lambda: not services.batch_needs_worker(batch.pk))
    statuses = list(batch.rows.values_list("status", flat=True))
    assert statuses.count(BatchRow.FAILED) == 1
    assert statuses.count(BatchRow.CANCELLED) >= 1
    assert batch_status(batch) == Batch.CANCELLED

    response = alice_client.post(url("retry"))
    run_worker(lambda: batch_status(batch) == Batch.FINISHED)
    assert response.status_code == 302
    assert batch.rows.filter(status=BatchRow.FAILED).count() == 0
    assert batch.rows.filter(status=BatchRow.CANCELLED).count() == statuses.count(BatchRow.CANCELLED)
    assert SandboxTask.objects.count() == 6 - statuses.count(BatchRow.CANCELLED)


@pytest.mark.django_db
def test_upload_page_reports_file_errors(alice_client, team, alice):
    template = make_template(team, alice)
    url = reverse("tasks_ui:batch-new", args=[template.pk])

    bad = alice_client.post(url, {"file": io.BytesIO("city\nKöln\n".encode("cp1252"))})
    good = alice_client.post(url, {"file": _named(csv_bytes([["city"], ["Paris"], ["=1+1"]]), "cities.csv")})

    assert "The file is not UTF-8 text" in bad.content.decode()
    batch = Batch.objects.get()
    assert good.url == reverse("tasks_ui:batch-detail", args=[batch.pk])
    page = alice_client.get(good.url).content.decode()
    assert '<strong id="task-count">2</strong>' in page
    assert "Column “city” starts with “=” like a spreadsheet formula" in page
    assert "Look up Paris and report its weather" in page


def _named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


@pytest.mark.django_db
def test_batch_grid_partial(alice_client, team, alice):
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"], ["Rome"]])
    services.batch_start(batch=batch, user=alice)

    response = alice_client.get(reverse("tasks_ui:batch-detail", args=[batch.pk]), HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="batch-live"')
    assert 'hx-trigger="every 2s"' in page
    assert page.count('data-status="queued"') == 2


@pytest.mark.django_db
def test_viewer_cannot_control_batch(client, team, alice, victor):
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"]])
    client.force_login(victor)

    assert client.post(reverse("tasks_ui:batch-start", args=[batch.pk])).status_code == 403
    assert client.get(reverse("tasks_ui:batch-detail", args=[batch.pk])).status_code == 200
    assert batch_status(batch) == Batch.DRAFT


@pytest.mark.django_db
def test_other_team_cannot_see_batch(client, team, alice, oscar):
    batch = make_batch(make_template(team, alice), alice, [["city"], ["Paris"]])
    client.force_login(oscar)

    assert client.get(reverse("tasks_ui:batch-detail", args=[batch.pk])).status_code == 404
    assert client.get(reverse("tasks_ui:batch-export", args=[batch.pk])).status_code == 404
