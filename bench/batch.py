"""Run a batch of N rows against the sandbox under a launch rate limit, and print the launch rate achieved
as a fraction of the rate allowed.

The rate limit is a token bucket in this script, placed in front of the sandbox's request handler. A
`POST /tasks` that finds the bucket empty receives the response of the API's project limiter (429, body
`error: rate_limited`, `Retry-After` in whole seconds) and creates nothing. A bucket is used rather
than a sandbox fault because an injected fault applies to a fixed number of calls, which cannot express
"at most R launches a second".

The batch is worked by django-tasks-db's own Worker (what `manage.py db_worker` runs), in this process,
with the dashboard's default step length, so the number measures the real worker. The script also
checks that every row became exactly one task.

    .venv/bin/python bench/batch.py [--rows 1000] [--rate 10] [--burst 10] [--step 0.05]
"""

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows in the CSV file (default: 1000)")
    parser.add_argument("--rate", type=float, default=10.0, help="launches allowed per second (default: 10)")
    parser.add_argument("--burst", type=int, default=10, help="maximum launches at once, the bucket's size (default: 10)")
    parser.add_argument("--concurrency", type=int, default=25, help="the sandbox's concurrent session limit (default: 25)")
    parser.add_argument("--step", type=float, default=0.05, help="seconds per simulated agent step (default: 0.05)")
    parser.add_argument("--timeout", type=float, default=900, help="give up after this many seconds (default: 900)")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.rate <= 0 or args.burst < 1:
        parser.error("--rows and --burst must be at least 1, and --rate above 0.")
    return args


class TokenBucket:
    """Allow `rate` launches a second on average and `burst` at once."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def setup_django(args: argparse.Namespace, database: Path) -> None:
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "BROWSER_USE_API_KEY": "",
            "SANDBOX_STEP_SECONDS": str(args.step),
            "SANDBOX_CONCURRENT_SESSION_LIMIT": str(args.concurrency),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    # The worker logs every step at INFO; only problems are of interest here.
    for name in ("django.tasks", "django_tasks_db"):
        logging.getLogger(name).setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)


def install_rate_limit(bucket: TokenBucket, stats: dict) -> None:
    """Put the bucket in front of the sandbox for POST /tasks; record accepted launches and 429s."""
    from tasks_ui.client import SandboxReply
    from tasks_ui.sandbox import api

    dispatch = api.dispatch

    def limited_dispatch(*, method, path, **kwargs):
        if method == "POST" and path.rstrip("/") == "/tasks":
            wait = bucket.take()
            if wait:
                stats["rejected"] += 1
                seconds = max(1, math.ceil(wait))
                body = {"error": "rate_limited", "message": "Too many requests.", "limit_rps": bucket.rate, "retry_after_seconds": seconds}
                return SandboxReply(429, body, headers={"Retry-After": str(seconds)})
            stats["launch_times"].append(time.monotonic())
        return dispatch(method=method, path=path, **kwargs)

    # The sandbox transport imports `dispatch` from the module on each request, so this replaces it.
    api.dispatch = limited_dispatch


def run_batch(args: argparse.Namespace) -> int:
    from django.contrib.auth import get_user_model
    from django_tasks_db.management.commands.db_worker import Worker

    from tasks_ui.forms import RUN_ID_METADATA_KEY
    from tasks_ui.models import Batch, BatchRow, Membership, Team
    from tasks_ui.sandbox.models import SandboxTask
    from tasks_ui.services import batches, templates

    user = get_user_model().objects.create_user("bench-batch")
    team = Team.objects.create(name="Batch benchmark")
    Membership.objects.create(team=team, user=user, role=Membership.OWNER)
    template = templates.template_create(
        team=team, user=user, name="Weather", description="", shared=True,
        request={"task": "Report the weather in {{city}}", "maxSteps": 4},
        variables=[{"name": "city", "type": "text", "default": "", "required": True, "choices": []}], secrets={},
    )
    data = ("city\n" + "".join(f"City {index}\n" for index in range(1, args.rows + 1))).encode()
    batch = batches.batch_create(template=template, user=user, file_name="cities.csv", data=data)

    bucket = TokenBucket(args.rate, args.burst)
    stats = {"rejected": 0, "launch_times": []}
    install_rate_limit(bucket, stats)

    started = time.monotonic()
    batches.batch_start(batch=batch, user=user)
    while Batch.objects.get(pk=batch.pk).status != Batch.FINISHED:
        if time.monotonic() - started > args.timeout:
            print(f"The batch did not finish within {args.timeout:.0f} s.", file=sys.stderr)
            return 1
        Worker(
            queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
            max_tasks=None, worker_id="bench-worker", excluded_queue_names=[],
        ).run()
        time.sleep(0.01)
    finished = time.monotonic()

    launches = stats["launch_times"]
    window = launches[-1] - started
    rate = len(launches) / window
    allowed = args.burst + args.rate * window
    tasks = SandboxTask.objects.count()
    run_ids = {task.request.get("metadata", {}).get(RUN_ID_METADATA_KEY) for task in SandboxTask.objects.all()}
    launched_rows = BatchRow.objects.filter(batch=batch, status=BatchRow.LAUNCHED).count()

    print(f"rows: {args.rows}, launched rows: {launched_rows}, sandbox tasks: {tasks}, distinct run ids: {len(run_ids)}")
    print(f"rate limit: {args.rate:g} launches/s with a burst of {args.burst}; 429 answers: {stats['rejected']}")
    print(f"launches took {window:.1f} s from the start; the batch finished after {finished - started:.1f} s")
    print(f"achieved launch rate: {rate:.2f}/s = {rate / args.rate:.1%} of the allowed {args.rate:g}/s")
    print(f"launches / bucket allowance over that time (burst + rate x time): {len(launches) / allowed:.1%}")
    if not (tasks == launched_rows == len(run_ids) == args.rows):
        print("ERROR: some rows were not launched exactly once.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as directory:
        setup_django(args, Path(directory) / "bench.sqlite3")
        return run_batch(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
