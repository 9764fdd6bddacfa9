"""Time the history page against Django admin's changelist of the same runs, and count SQL queries per page.

The script fills a separate database with one team, a few members and N settled runs. A database that already
contains N runs is reused. It then requests both pages with Django's test Client as a superuser who owns the
team. It prints the median server time of each page, the history/admin time ratio (goal: at most 0.5) and
the queries per page (goal: the same count whatever the number of rows shown). It exits with 0 even when a
goal is missed, and prints "GOAL MISSED" for each one.

    .venv/bin/python bench/history.py [--rows 100000] [--repeat 15] [--database-url URL]
"""

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{ROOT / 'bench' / 'history.sqlite3'}"
GOAL_TIME_RATIO = 0.5
ADMIN_URL = "/admin/tasks_ui/run/"
TEAM_NAME = "Benchmark team"
OWNER_USERNAME = "bench-owner"
MEMBER_USERNAMES = ("bench-ana", "bench-bruno", "bench-chen", "bench-dara")
# Launch times are spread evenly over this period, newest now, so every page has distinct times.
LAUNCH_PERIOD = timedelta(days=180)
# Settled runs only, because the history page reads unsettled runs from the API and this bench measures
# rendering and queries. Weights are guesses at a typical mix.
STATUS_WEIGHTS = {"finished": 78, "failed": 10, "stopped": 8, "rejected": 4}
INSERT_CHUNK = 5000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="number of runs in the database (default: 100000)")
    parser.add_argument(
        "--repeat", type=int, default=15, help="timed requests per page; the median is reported (default: 15)"
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="database to fill and measure, as a DATABASE_URL (default: bench/history.sqlite3)",
    )
    args = parser.parse_args(argv)
    if args.rows < 200:
        parser.error(f"--rows must be at least 200 so that a deep page exists, not {args.rows}.")
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {args.repeat}.")
    return args


def configure_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    # An empty key selects the sandbox, so nothing can reach the real API even if a call slipped through.
    os.environ["BROWSER_USE_API_KEY"] = ""
    # Time the pages as production renders them, without DEBUG's per-query bookkeeping.
    os.environ["DEBUG"] = "false"
    # Django's test Client sends Host: testserver.
    os.environ["ALLOWED_HOSTS"] = "testserver"
    sys.path.insert(0, str(ROOT))
    # WhiteNoise warns on every start that STATIC_ROOT is missing, which only matters for a deployment.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    import django

    django.setup()


# Seeding


def seed_database(rows: int) -> tuple[object, bool]:
    """Create the team, its members and `rows` runs unless they exist. Return the owner and whether runs were added."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction

    from tasks_ui.models import Membership, Run, Team

    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    with transaction.atomic():
        team = Team.objects.filter(name=TEAM_NAME).order_by("pk").first() or Team.objects.create(name=TEAM_NAME)
        owner = _user(user_model, OWNER_USERNAME, superuser=True)
        Membership.objects.get_or_create(team=team, user=owner, defaults={"role": Membership.OWNER})
        members = [_user(user_model, name, superuser=False) for name in MEMBER_USERNAMES]
        for member in members:
            Membership.objects.get_or_create(team=team, user=member, defaults={"role": Membership.MEMBER})

    if Run.objects.exclude(team=team).exists():
        # The admin lists every team's runs, so other runs would make the two pages show different rows.
        raise SystemExit(
            "The database contains runs of other teams, so the admin would list more runs than the history page. "
            "Point --database-url at an empty database, or omit it to use bench/history.sqlite3."
        )
    if Run.objects.filter(team=team).count() == rows:
        return owner, False

    started = time.perf_counter()
    print(f"Writing {rows:,} runs (once; later runs of this script reuse them)...", flush=True)
    launched_at = Run._meta.get_field("launched_at")
    # auto_now_add would overwrite the spread-out launch times with the time of the insert.
    launched_at.auto_now_add = False
    try:
        with transaction.atomic():
            Run.objects.filter(team=team).delete()
            runs = _generate_runs(team, [owner, *members], rows)
            while chunk := [run for _, run in zip(range(INSERT_CHUNK), runs)]:
                Run.objects.bulk_create(chunk)
    finally:
        launched_at.auto_now_add = True
    if connection.vendor == "postgresql":
        # Autovacuum does this a little later in production. Without it, the planner would lack statistics and
        # would skip index-only scans during the first measurements.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Run._meta.db_table)}")
    print(f"Wrote {rows:,} runs in {time.perf_counter() - started:.1f} s.", flush=True)
    return owner, True


def _user(user_model, username: str, *, superuser: bool):
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"is_staff": superuser, "is_superuser": superuser}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


SITES = (
    "https://news.ycombinator.com", "https://www.amazon.com", "https://github.com/trending", "https://www.bbc.com",
    "https://www.booking.com", "https://en.wikipedia.org", "https://www.zillow.com", "https://www.linkedin.com/jobs",
    "https://www.google.com/flights", "https://www.ebay.com", "https://arxiv.org", "https://www.imdb.com",
)
VERBS = ("Find", "Compare", "List", "Collect", "Summarise", "Check", "Extract", "Look up")
SUBJECTS = (
    "the five highest-ranked posts and their point counts",
    "the price of a 1 TB NVMe SSD from three sellers",
    "today's trending Python repositories with their star counts",
    "the opening hours of the central library",
    "hotels under 150 EUR per night in Lisbon for the first weekend of next month",
    "the release date and director of the three newest films in the top chart",
    "open senior backend roles that allow remote work in Europe",
    "the cheapest direct flight from Berlin to Madrid next Friday",
    "recent papers on retrieval-augmented generation with their abstracts",
    "the population and area of the ten largest cities in Brazil",
)
DETAILS = (
    "",
    " Return the result as a table.",
    " Ignore sponsored results and stop after the first page.",
    " If a login wall appears, report it and stop instead of creating an account.",
    " Include the URL of each item so that the results can be checked later, and note anything that looked odd.",
)
ERRORS = {
    402: "The API rejected the request: the account has no credits left.",
    422: "The API rejected the request: Input should be a valid URL.",
    400: "The API rejected the request: the session is busy with another task.",
}


def _generate_runs(team, users: list, rows: int):
    """Yield `rows` settled runs with varied fields, newest first.

    A fixed seed makes every run the same on each call, except for the launch times, which count back from now.
    """
    from django.utils import timezone

    from tasks_ui.api_enums import SUPPORTED_LLMS
    from tasks_ui.models import Run

    rng = random.Random(20_260_101)
    now = timezone.now().replace(microsecond=0)
    step = LAUNCH_PERIOD / rows
    statuses, weights = zip(*STATUS_WEIGHTS.items())
    llms = SUPPORTED_LLMS[:12]

    for index in range(rows):
        run_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        status = rng.choices(statuses, weights)[0]
        site = rng.choice(SITES)
        task_text = f"{rng.choice(VERBS)} {rng.choice(SUBJECTS)} on {site}.{rng.choice(DETAILS)}"
        llm = rng.choice(llms)
        judge = rng.random() < 0.6
        request = {"task": task_text, "llm": llm, "startUrl": site, "metadata": {"dashboardRunId": str(run_id)}}
        if rng.random() < 0.3:
            request["maxSteps"] = rng.choice((10, 25, 50))
        if judge:
            request["judge"] = True
        # Jitter below one step keeps launch times distinct and strictly ordered.
        launched_at = now - step * index - step * rng.random() * 0.9
        run = Run(
            id=run_id, team=team, launched_by=rng.choice(users), status=status, task_text=task_text, llm=llm,
            request=request, launched_at=launched_at, polled_at=launched_at,
        )
        if status == "rejected":
            run.error_status = rng.choice(tuple(ERRORS))
            run.error = ERRORS[run.error_status]
        else:
            _fill_task_fields(run, rng, judge)
        yield run


def _fill_task_fields(run, rng: random.Random, judge: bool) -> None:
    run.task_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    run.session_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    run.started_at = run.launched_at + timedelta(seconds=rng.uniform(1, 8))
    run.finished_at = run.started_at + timedelta(seconds=rng.uniform(8, 600))
    run.cost = Decimal(rng.uniform(0.002, 0.6)).quantize(Decimal("0.000001"))
    if run.status == "finished":
        run.is_success = rng.random() < 0.88
        run.output = f"Done. {run.task_text[:160]}" if run.is_success else "Stopped after reaching the step limit."
    elif run.status == "failed":
        run.is_success = False
    if judge and run.status == "finished":
        run.judge_verdict = bool(run.is_success) and rng.random() < 0.9
    # About a third of the runs were opened on their detail page, which stores the last full task view.
    if rng.random() < 0.35:
        run.snapshot = _snapshot(run, rng)


def _snapshot(run, rng: random.Random) -> dict:
    steps = [
        {
            "number": number,
            "memory": f"Step {number} of the task.",
            "evaluationPreviousGoal": "Start" if number == 1 else "Success - the previous goal was reached.",
            "nextGoal": "Find the information the task asks for",
            "url": f"{run.request['startUrl']}/page-{number}",
            "screenshotUrl": f"https://example.invalid/steps/{run.task_id}/{number}.png",
            "actions": ['{"click_element_by_index": {"index": %d}}' % rng.randint(1, 40)],
            "duration": round(rng.uniform(0.5, 6), 2),
        }
        for number in range(1, rng.randint(2, 9))
    ]
    return {
        "id": str(run.task_id),
        "sessionId": str(run.session_id),
        "llm": run.llm,
        "task": run.task_text,
        "status": run.status,
        "output": run.output,
        "isSuccess": run.is_success,
        "judgeVerdict": run.judge_verdict,
        "cost": str(run.cost),
        "steps": steps,
        "outputFiles": [],
    }


# Measuring

HISTORY_ROW = r'<tr id="run-'
# The admin puts one action checkbox on each row.
ADMIN_ROW = r'class="action-select"'


@dataclass
class Page:
    """A page to measure, and its measurements."""

    label: str
    url: str
    row_pattern: str
    # Entered around every request of this page, to switch an admin option for it alone.
    setup: Callable[[], AbstractContextManager] = nullcontext
    timings: list[float] = field(default_factory=list)
    rows: int = 0
    queries: int = 0
    api_calls: int = 0
    body: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.timings) * 1000


def measure(client, pages: list[Page], repeat: int) -> None:
    """Time each page `repeat` times, one round over all pages at a time, then count each page's queries.

    Interleaving the rounds spreads any background load on the machine over all pages alike, so the ratios
    stay fair when the absolute times do not.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Every API call, to the sandbox or to the real API, is an httpx request, so counting them catches all.
    with mock.patch.object(httpx.Client, "send", autospec=True, side_effect=httpx.Client.send) as send:
        for _ in range(2):
            for page in pages:
                with page.setup():
                    _get(client, page.url)
        for _ in range(repeat):
            for page in pages:
                with page.setup():
                    calls_before = send.call_count
                    started = time.perf_counter()
                    _get(client, page.url)
                    page.timings.append(time.perf_counter() - started)
                    page.api_calls += send.call_count - calls_before

    # Queries are counted in a separate request, so the debug cursor's bookkeeping stays out of the timings.
    for page in pages:
        with page.setup(), CaptureQueriesContext(connection) as captured:
            page.body = _get(client, page.url)
        page.queries = len(captured.captured_queries)
        page.rows = len(re.findall(page.row_pattern, page.body))


def _get(client, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(
            f"GET {url} returned HTTP {response.status_code}, expected 200. "
            "Run the test suite to check that the page works, then run the benchmark again."
        )
    return response.content.decode()


@contextmanager
def _attributes(target, **values):
    """Set attributes on `target` for the duration of the block, then restore them."""
    saved = {name: getattr(target, name) for name in values}
    for name, value in values.items():
        setattr(target, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(target, name, value)


def measure_pages(client, rows: int, repeat: int) -> dict:
    """Measure the history and admin pages. Return the pages by name and the history's query counts by page size."""
    from django.contrib import admin

    from tasks_ui.models import Run
    from tasks_ui.selectors import runs as run_selectors

    history_size = run_selectors.HISTORY_PAGE_SIZE
    run_admin = admin.site._registry[Run]
    admin_size = run_admin.list_per_page
    # The deep pages end at the middle run, so the admin's deep page contains the history's deep page.
    middle = rows // 2
    history_deep = middle // history_size
    admin_deep = -(-history_deep * history_size // admin_size)

    # The admin's filter sidebar and date drill-down each scan the whole table. The bare admin turns them off
    # and shows the history's page size, so it compares the row query and rendering alone.
    def bare_admin():
        return _attributes(run_admin, list_per_page=history_size, list_filter=(), date_hierarchy=None)

    pages = {
        "history": Page("history page 1", "/", HISTORY_ROW),
        "history deep": Page("history deep page", f"/?page={history_deep}", HISTORY_ROW),
        "admin": Page("admin page 1", ADMIN_URL, ADMIN_ROW),
        "admin deep": Page("admin deep page", f"{ADMIN_URL}?p={admin_deep}", ADMIN_ROW),
        "bare admin": Page(f"bare admin, {history_size} rows, page 1", ADMIN_URL, ADMIN_ROW, bare_admin),
        "bare admin deep": Page(
            f"bare admin, {history_size} rows, deep page", f"{ADMIN_URL}?p={history_deep}", ADMIN_ROW, bare_admin
        ),
    }
    measure(client, list(pages.values()), repeat)

    query_counts = {}
    for size in (10, 25, 100):
        with _attributes(run_selectors, HISTORY_PAGE_SIZE=size):
            sized = [Page("page 1", "/", HISTORY_ROW), Page("deep page", f"/?page={middle // size}", HISTORY_ROW)]
            measure(client, sized, repeat=1)
        for page in sized:
            query_counts[size, page.label] = (page.rows, page.queries)
    return {"pages": pages, "query_counts": query_counts}


# Reporting


def print_report(args: argparse.Namespace, wrote: bool, measured: dict, load: tuple[float, float]) -> None:
    import django
    from django.conf import settings
    from django.db import connection

    pages, query_counts = measured["pages"], measured["query_counts"]
    database = settings.DATABASES["default"]
    reused = "written by this run" if wrote else "reused"
    print()
    print(f"database: {connection.vendor} {database['NAME']}; runs: {args.rows:,} ({reused}); "
          f"repeat: {args.repeat} (median)")
    print(f"machine: {os.cpu_count()} CPUs, load average (1 min) {load[0]:.2f} before and {load[1]:.2f} after; "
          f"Python {sys.version.split()[0]}, Django {django.get_version()}")
    print()
    _print_table(list(pages.values()))
    print()

    missed = []
    for name, key in (("page 1", ""), ("deep page", " deep")):
        ratio = pages["history" + key].median_ms / pages["admin" + key].median_ms
        print(f"history/admin time ratio, {name}: {ratio:.2f} (goal <= {GOAL_TIME_RATIO})")
        if ratio > GOAL_TIME_RATIO:
            missed.append(f"the history {name} takes {ratio:.2f} of the admin's time, more than {GOAL_TIME_RATIO}")
    for name, key in (("page 1", ""), ("deep page", " deep")):
        ratio = pages["history" + key].median_ms / pages["bare admin" + key].median_ms
        print(f"history/bare admin time ratio, {name}: {ratio:.2f} (for information)")

    history_queries = {queries for _, queries in query_counts.values()}
    history_queries |= {pages["history"].queries, pages["history deep"].queries}
    constant = len(history_queries) == 1
    by_size = ", ".join(
        f"{rows} rows: {queries}" for (_, label), (rows, queries) in query_counts.items() if label == "page 1"
    )
    print(
        f"queries per history page: {pages['history'].queries} (constant across pages: "
        f"{'yes' if constant else 'no'}; on page 1 by rows shown: {by_size})"
    )
    print(f"queries per admin page: {pages['admin'].queries} ({pages['admin'].rows} rows)")
    if not constant:
        missed.append(f"the history page's query count varies with the page or rows shown: {sorted(history_queries)}")

    history_ids = set(re.findall(r'<tr id="run-([0-9a-f-]{36})"', pages["history deep"].body))
    same_rows = bool(history_ids) and all(run_id in pages["admin deep"].body for run_id in history_ids)
    print(f"admin deep page contains the history deep page's {len(history_ids)} runs: {'yes' if same_rows else 'no'}")
    if not same_rows:
        missed.append("the deep pages show different runs, so their times are not comparable")
    api_calls = pages["history"].api_calls + pages["history deep"].api_calls
    print(f"API calls during the timed history requests: {api_calls}")
    if api_calls:
        missed.append(f"the history page called the API {api_calls} times, although every run is settled")

    print()
    for reason in missed:
        print(f"GOAL MISSED: {reason}.")
    if not missed:
        print("All goals met.")


def _print_table(pages: list[Page]) -> None:
    label_width = max(len(page.label) for page in pages)
    url_width = max(len(page.url) for page in pages)
    print(f"{'page':<{label_width}}  {'url':<{url_width}}  {'rows':>4}  {'queries':>7}  {'median ms':>9}")
    for page in pages:
        print(
            f"{page.label:<{label_width}}  {page.url:<{url_width}}  {page.rows:>4}  {page.queries:>7}  "
            f"{page.median_ms:>9.1f}"
        )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    configure_django(args.database_url)

    from django.db import connections
    from django.test import Client

    try:
        owner, wrote = seed_database(args.rows)
        client = Client()
        client.force_login(owner)
        load_before = os.getloadavg()[0]
        measured = measure_pages(client, args.rows, args.repeat)
        load_after = os.getloadavg()[0]
    finally:
        # Closing the connection lets SQLite fold its write-ahead log back into the file and remove it.
        connections.close_all()
    print_report(args, wrote, measured, (load_before, load_after))
    # A missed goal is a result to read, not a failure of the script.
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
