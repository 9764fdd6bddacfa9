"""Shared fixtures: sandbox settings, named people, compose-form data and the headless browser."""

import os
import shutil
import time

import pytest
from django.contrib.auth import get_user_model

from tasks_ui.forms import MAX_SECRETS, USER_METADATA_PAIRS
from tasks_ui.models import Membership, Team

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "a-long-test-password-1"

# Playwright's sync API keeps an event loop in the test thread, so Django's ORM would reject calls there.
# Test bodies still run strictly in sequence, so the check is switched off for the suite.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

@pytest.fixture(scope="session", autouse=True)
def short_lived_connections():
    """Close each thread's connection after its request: persistent connections of the live server's threads
    would keep the PostgreSQL test database busy when it is dropped."""
    from django.conf import settings

    for database in settings.DATABASES.values():
        database["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """Put an SQLite test database in a file of this run, instead of in memory.

    The live server's threads share the in-memory database's cache, where a write makes a concurrent
    request fail at once with "database table is locked". Pages that load several htmx parts at once hit
    that. With a file, WAL and the busy timeout make such requests wait instead.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True)
def sandbox_settings(settings):
    """Run every test against the sandbox, with fast simulated steps and no refresh throttling."""
    settings.BROWSER_USE_API_KEY = ""
    settings.SANDBOX_STEP_SECONDS = 0.05
    settings.STATUS_REFRESH_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def make_member(username: str, team: Team, role: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    Membership.objects.create(team=team, user=user, role=role)
    return user


@pytest.fixture
def team(db):
    return Team.objects.create(name="Acme")


@pytest.fixture
def alice(team):
    """Owner of the Acme team."""
    return make_member("alice", team, Membership.OWNER)


@pytest.fixture
def bob(team):
    """Member of the Acme team."""
    return make_member("bob", team, Membership.MEMBER)


@pytest.fixture
def victor(team):
    """Viewer in the Acme team."""
    return make_member("victor", team, Membership.VIEWER)


@pytest.fixture
def oscar(db):
    """Owner of another team, with no access to Acme."""
    return make_member("oscar", Team.objects.create(name="Other Co"), Membership.OWNER)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def compose_data(**fields) -> dict:
    """Return POST data for the compose form: the defaults, the empty row formsets and `fields`.

    `metadata` and `secrets` may be given as dicts; they fill the first rows of their formsets.
    """
    metadata = fields.pop("metadata", {})
    secrets = fields.pop("secrets", {})
    data = {
        "task": "Open example.com and report the page title",
        "llm": "browser-use-2.0",
        "max_steps": "100",
        "vision": "true",
        "skills_mode": "none",
        "metadata-TOTAL_FORMS": str(USER_METADATA_PAIRS),
        "metadata-INITIAL_FORMS": "0",
        "secrets-TOTAL_FORMS": str(MAX_SECRETS),
        "secrets-INITIAL_FORMS": "0",
    }
    for index, (key, value) in enumerate(metadata.items()):
        data[f"metadata-{index}-key"] = key
        data[f"metadata-{index}-value"] = value
    for index, (domain, credential) in enumerate(secrets.items()):
        data[f"secrets-{index}-domain"] = domain
        data[f"secrets-{index}-credential"] = credential
    data.update({name: str(value) for name, value in fields.items() if value is not None})
    return data


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Call `predicate` until it returns a truthy value and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Condition not met within {timeout} s")
        time.sleep(interval)


# Browser tests: pytest-playwright's fixtures, pointed at Debian's chromium.


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}; .ci/run installs Debian's chromium package.")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def logged_in_page(page, live_server, alice):
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page
