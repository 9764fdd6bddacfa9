"""CSRF on forms and htmx posts, login throttling, session expiry and production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tasks_ui.models import Run

from .conftest import PASSWORD, compose_data

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def test_post_without_csrf_token_is_rejected(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    plain = client.post(reverse("tasks_ui:compose"), compose_data())
    htmx = client.post(reverse("tasks_ui:compose-preview"), compose_data(), HTTP_HX_REQUEST="true")

    assert plain.status_code == 403
    assert htmx.status_code == 403
    assert Run.objects.count() == 0


def test_htmx_post_with_csrf_header_is_accepted(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(reverse("tasks_ui:compose"))
    token = page.context["csrf_token"]

    response = client.post(reverse("tasks_ui:compose-preview"), compose_data(), HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=str(token))

    assert response.status_code == 200


def test_login_is_throttled(alice, client):
    for _ in range(4):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
        assert response.status_code == 200
    fifth = client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
    assert fifth.status_code == 429

    locked = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_good_login_resets_failures(alice, client):
    for _ in range(4):
        client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})

    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_pages_require_login(client):
    for name in ("tasks_ui:history", "tasks_ui:compose", "tasks_ui:team", "tasks_ui:sessions", "tasks_ui:template-list"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login")), name


def test_security_headers(alice_client):
    response = alice_client.get(reverse("tasks_ui:history"))

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert response["X-Frame-Options"] == "DENY"


def _run_check(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DEBUG", "SECRET_KEY"))}
    env.update({"DJANGO_SETTINGS_MODULE": "dashboard.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


PRODUCTION = {
    "DASHBOARD_ENV": "production",
    "SECRET_KEY": "k" * 20 + "Q7-z" * 10 + "x9",
    "ALLOWED_HOSTS": "dashboard.example.com",
    "FIELD_ENCRYPTION_KEYS": "field-key-for-the-check",
}


def test_check_deploy_is_clean_in_production():
    result = _run_check(PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS must hold"),
    ],
)
def test_production_refuses_bad_settings(override, message):
    result = _run_check({**PRODUCTION, **override})

    assert result.returncode != 0
    assert message in result.stderr
