"""Secrets stay secret: a distinctive API key and task secret appear only in the outgoing request and, encrypted,
in the database, never in a page, a partial, a download, an export, the admin or a log line."""

import json
import logging
import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from tasks_ui.models import Run, Team
from tasks_ui.sandbox import api as sandbox_api
from tasks_ui.services import templates as template_services

from .conftest import compose_data, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "bu_LEAKCHECK_key_4d1e9b"
SECRET = "pw-LEAKCHECK-7f3a9c"
PROXY_PASSWORD = "proxy-LEAKCHECK-55aa"
NEEDLES = (API_KEY, SECRET, PROXY_PASSWORD)
LINK = re.compile(r"""(?:href|hx-get|src|action)=["']([^"'#]+)["']""")
SKIPPED_PATHS = ("/static/", "/accounts/logout/", "/sandbox/live/", "/admin/logout/")
MAX_PAGES = 400


def _crawl(client, start_paths: list[str]) -> dict[str, bytes]:
    """GET every same-site link reachable from `start_paths`, full pages and htmx partials alike."""
    seen: dict[str, bytes] = {}
    queue = deque(start_paths)
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen or path.startswith(SKIPPED_PATHS):
            continue
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = client.get(path, follow=True, **headers)
            body = response.content
            seen.setdefault(path, b"")
            seen[path] += body
            if "html" not in response.get("Content-Type", ""):
                continue
            for link in LINK.findall(body.decode(errors="replace")):
                target = urljoin(path, link.replace("&amp;", "&"))
                parts = urlsplit(target)
                if parts.netloc not in ("", "testserver") or not parts.path.startswith("/"):
                    continue
                # The admin's sort and filter links only reorder the same rows, so its queries are dropped.
                keep_query = parts.query and not parts.path.startswith("/admin/")
                queue.append(parts.path + (f"?{parts.query}" if keep_query else ""))
    return seen


def test_secrets_appear_nowhere(alice, team, client, live_server, settings, caplog, monkeypatch, django_user_model):
    caplog.set_level(logging.DEBUG)
    settings.SANDBOX_API_KEY = API_KEY
    sent_bodies: list[bytes] = []
    real_dispatch = sandbox_api.dispatch

    def recording_dispatch(**kwargs):
        sent_bodies.append(kwargs["body"])
        return real_dispatch(**kwargs)

    monkeypatch.setattr(sandbox_api, "dispatch", recording_dispatch)

    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)

    # The key goes over real HTTP to the sandbox, as it would to the real API.
    response = client.post(
        reverse("tasks_ui:team-key"), {"api_key": API_KEY, "base_url": f"{live_server.url}/sandbox/api/v2"}
    )
    assert response.status_code == 302
    Team.objects.filter(pk=team.pk).update(name="Acme")

    for index in range(2):
        client.post(
            reverse("tasks_ui:compose"),
            compose_data(
                task=f"Log in to example.com and read the invoice {index}",
                structured_output=json.dumps({"type": "object", "properties": {"total": {"type": "number"}}}),
                judge="on",
                secrets={"example.com": SECRET, "*.example.org": SECRET + "-b"},
                metadata={"purpose": "leak check"},
            ),
        )
    # A session with a custom proxy, through the new-session form.
    response = client.post(
        reverse("tasks_ui:session-new"),
        {"name": "Proxy session", "keep_alive": "on", "persist_memory": "on", "proxy_host": "proxy.example.net",
         "proxy_port": "3128", "proxy_username": "squid", "proxy_password": PROXY_PASSWORD, "proxy_country": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    # A template that keeps a credential, launched once.
    template = template_services.template_create(
        team=team, user=alice, name="Invoice reader", description="", shared=True,
        request={"task": "Read the invoice of {{month}}", "secrets": {"example.com": "********"}},
        variables=[{"name": "month", "type": "text", "default": "May", "required": True, "choices": []}],
        secrets={"example.com": SECRET},
    )
    client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"month": "June"})

    # A form that fails validation must not echo the secret in any later page either.
    client.post(reverse("tasks_ui:compose"), compose_data(task="", secrets={"example.com": SECRET}))

    runs = list(Run.objects.all())
    assert len(runs) == 3
    assert Run.objects.filter(template=template).exists()
    for run in runs:
        wait_until(lambda run=run: client.get(reverse("tasks_ui:run-detail", args=[run.pk])) and Run.objects.get(pk=run.pk).status == "finished")

    # The outgoing requests did carry the secrets.
    assert sum(SECRET.encode() in body for body in sent_bodies) >= 3
    assert any(PROXY_PASSWORD.encode() in body for body in sent_bodies)

    pages = _crawl(client, ["/", reverse("tasks_ui:compose"), reverse("tasks_ui:team"), "/admin/"])
    assert len(pages) > 10
    for path, body in pages.items():
        for needle in NEEDLES:
            assert needle.encode() not in body, f"{needle} leaked on {path}"

    for record in caplog.records:
        line = record.getMessage()
        for needle in NEEDLES:
            assert needle not in line, f"{needle} leaked into the log: {line}"

    with connection.cursor() as cursor:
        for model in apps.get_models():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}")
            raw = repr(cursor.fetchall())
            for needle in NEEDLES:
                assert needle not in raw, f"{needle} stored in plain text in {model._meta.db_table}"
