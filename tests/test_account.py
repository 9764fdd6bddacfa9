"""The account panel, the compose form's session usage, and the profile and skill pickers, against the sandbox.

A null `planInfo` (pay-as-you-go projects) is the one response the sandbox does not give, so that test serves
its own response through httpx's mock transport.
"""

import httpx
import pytest
from django.urls import reverse
from django.utils.html import escape

from tasks_ui.client import BrowserUseClient
from tasks_ui.models import Run
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.catalog import PROFILES, SKILLS
from tasks_ui.services import account as services
from tests.conftest import compose_data

pytestmark = pytest.mark.django_db

SHOP_PROFILE, SUPPORT_PROFILE, UNNAMED_PROFILE = (profile["id"] for profile in PROFILES)
JOBS_SKILL, PRICE_SKILL, INVOICE_SKILL, NEWS_SKILL = (skill["id"] for skill in SKILLS)


# Account panel


def test_account_shows_project(alice_client):
    response = alice_client.get(reverse("tasks_ui:account"))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Sandbox project" in html
    assert "7d1c0e55-5a4d-4b0c-9e21-000000000001" in html
    assert "The key works." in html
    assert "$25.00" in html
    assert "$20.00" in html
    assert "$5.00" in html
    assert "0 of 25 busy" in html
    assert "Sandbox" in html


def test_account_counts_active_sessions(alice_client):
    alice_client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"})

    html = alice_client.get(reverse("tasks_ui:account")).content.decode()

    assert "1 of 25 busy" in html


def serve_account(monkeypatch, account: dict):
    client = BrowserUseClient(
        httpx.Client(base_url="http://api.test/api/v2", transport=httpx.MockTransport(lambda request: httpx.Response(200, json=account)))
    )
    monkeypatch.setattr(services, "client_for_team", lambda team: client)


def test_account_tolerates_null_plan(alice_client, monkeypatch):
    serve_account(monkeypatch, {
        "name": None, "totalCreditsBalanceUsd": 3.5, "monthlyCreditsBalanceUsd": 0, "additionalCreditsBalanceUsd": 3.5,
        "rateLimit": 10, "concurrentSessionLimit": 10, "activeSessionCount": 2, "planInfo": None,
        "projectId": "0c7a2f1e-0000-4000-8000-000000000009",
    })

    html = alice_client.get(reverse("tasks_ui:account")).content.decode()

    assert "No plan (pay as you go)" in html
    assert "2 of 10 busy" in html
    assert "$3.50" in html


def test_account_reports_rejected_key(alice_client):
    faults.inject("GET /billing/account", "401")

    html = alice_client.get(reverse("tasks_ui:account")).content.decode()

    assert "The key was rejected." in html
    assert "The key works." not in html


def test_account_reports_outage(alice_client):
    faults.inject("GET /billing/account", "500")

    html = alice_client.get(reverse("tasks_ui:account")).content.decode()

    assert "could not be read, so the key was not checked" in html


def test_viewer_sees_account(client, victor):
    client.force_login(victor)

    assert client.get(reverse("tasks_ui:account")).status_code == 200


# Session usage on the compose form


def test_compose_loads_usage(alice_client):
    html = alice_client.get(reverse("tasks_ui:compose")).content.decode()

    assert f'hx-get="{reverse("tasks_ui:account-usage")}" hx-trigger="load"' in html


def test_usage_counts_busy_sessions(alice_client):
    alice_client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"})

    html = alice_client.get(reverse("tasks_ui:account-usage")).content.decode()

    assert "1 of 25 sessions busy" in html
    assert "usage--full" not in html


def test_usage_warns_when_full(alice_client, settings):
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 2
    alice_client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"})
    alice_client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on"})

    html = alice_client.get(reverse("tasks_ui:account-usage")).content.decode()

    assert "2 of 2 sessions busy" in html
    assert "usage--full" in html
    assert "a task in a new session" in html


def test_usage_error_is_plain(alice_client):
    faults.inject("GET /billing/account", "500")

    html = alice_client.get(reverse("tasks_ui:account-usage")).content.decode()

    assert "The number of busy sessions is unknown" in html


def test_viewer_gets_no_usage_or_pickers(client, victor):
    client.force_login(victor)

    for name in ("account-usage", "profile-picker", "skill-picker", "session-picker"):
        assert client.get(reverse(f"tasks_ui:{name}")).status_code == 403, name


# Profile picker


def test_profile_picker_lists_profiles(alice_client):
    html = alice_client.get(reverse("tasks_ui:profile-picker")).content.decode()

    assert "Shop account" in html
    assert "user alice@example.com" in html
    assert "cookies for shop.example.com, .example.com" in html
    assert f'value="{UNNAMED_PROFILE}"' in html
    assert "(no name)" in html
    assert UNNAMED_PROFILE in html
    assert 'data-fills="id_profile_id"' in html


def test_profile_picker_searches(alice_client):
    html = alice_client.get(reverse("tasks_ui:profile-picker") + "?profile_q=support").content.decode()

    assert "Support desk" in html
    assert "Shop account" not in html


def test_profile_picker_marks_chosen(alice_client):
    url = reverse("tasks_ui:profile-picker") + f"?profile_id={SUPPORT_PROFILE}"

    html = alice_client.get(url).content.decode()

    assert f'value="{SUPPORT_PROFILE}" data-fills="id_profile_id" checked' in html


def test_profile_picker_no_match(alice_client):
    html = alice_client.get(reverse("tasks_ui:profile-picker") + "?profile_q=nobody").content.decode()

    assert escape("No profile matches “nobody”.") in html


def test_profile_picker_error_keeps_typed_fallback(alice_client):
    faults.inject("GET /profiles", "500")

    html = alice_client.get(reverse("tasks_ui:profile-picker")).content.decode()

    assert "The profiles could not be listed" in html
    assert "Type the profile ID instead." in html


def test_profile_picker_target_is_plain_id(alice_client):
    url = reverse("tasks_ui:profile-picker") + '?target="><script>alert(1)</script>'

    html = alice_client.get(url).content.decode()

    assert "<script>" not in html
    assert 'data-fills="id_profile_id"' in html


def test_typed_profile_still_sent(alice_client):
    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(profile_id=SHOP_PROFILE, proxy_country="de"))

    assert response.status_code == 302
    assert Run.objects.get().request["sessionSettings"] == {"profileId": SHOP_PROFILE, "proxyCountryCode": "de"}


def test_forms_include_profile_picker(alice_client):
    for name in ("compose", "session-new"):
        html = alice_client.get(reverse(f"tasks_ui:{name}")).content.decode()
        assert 'id="id_profile_id"' in html, name
        assert f'hx-get="{reverse("tasks_ui:profile-picker")}?target=id_profile_id" hx-trigger="load"' in html, name


# Skill picker


def test_skill_picker_lists_usable_skills(alice_client):
    html = alice_client.get(reverse("tasks_ui:skill-picker")).content.decode()

    assert "Search job listings" in html
    assert "Track product price" in html
    assert "Searches a job board and returns the newest matching listings." in html
    assert "<code>query</code>" in html
    assert "string, required: Job title or keywords" in html
    assert "number, optional: Maximum listings to return (default 10)" in html
    assert "Download monthly invoice" not in html
    assert "Summarize news headlines" not in html


def test_skill_picker_can_include_all(alice_client):
    html = alice_client.get(reverse("tasks_ui:skill-picker") + "?skill_all=1").content.decode()

    assert "Download monthly invoice" in html
    assert "disabled" in html
    assert "Summarize news headlines" in html
    assert "generating" in html
    assert "cookie for billing.example.net" in html


def test_skill_picker_searches(alice_client):
    html = alice_client.get(reverse("tasks_ui:skill-picker") + "?skill_q=price").content.decode()

    assert "Track product price" in html
    assert "Search job listings" not in html


def test_skill_picker_keeps_chosen_outside_search(alice_client):
    url = reverse("tasks_ui:skill-picker") + f"?skill_q=price&skill_ids={JOBS_SKILL}%0A{PRICE_SKILL}"

    html = alice_client.get(url).content.decode()

    assert html.index("Search job listings") < html.index("Track product price")
    assert f'data-skill-id="{JOBS_SKILL}" checked' in html
    assert f'data-skill-id="{PRICE_SKILL}" checked' in html


def test_skill_picker_flags_unknown_chosen_id(alice_client):
    unknown = "9f9f9f9f-0000-4000-8000-000000000000"

    html = alice_client.get(reverse("tasks_ui:skill-picker") + f"?skill_ids={unknown}").content.decode()

    assert f'data-skill-id="{unknown}" checked' in html
    assert "The API has no skill with this ID." in html


def test_compose_includes_skill_picker(alice_client):
    html = alice_client.get(reverse("tasks_ui:compose")).content.decode()

    assert f'hx-get="{reverse("tasks_ui:skill-picker")}" hx-trigger="load"' in html


def test_chosen_skills_are_sent(alice_client):
    response = alice_client.post(
        reverse("tasks_ui:compose"), compose_data(skills_mode="selected", skill_ids=f"{JOBS_SKILL}\n{PRICE_SKILL}")
    )

    assert response.status_code == 302
    assert Run.objects.get().request["skillIds"] == [JOBS_SKILL, PRICE_SKILL]


def test_all_skills_sent_as_star(alice_client):
    response = alice_client.post(reverse("tasks_ui:compose"), compose_data(skills_mode="all"))

    assert response.status_code == 302
    assert Run.objects.get().request["skillIds"] == ["*"]


def test_service_filters_unusable_skills(alice, team):
    result = services.skills_search(team=team)

    assert [skill["id"] for skill in result.items] == [JOBS_SKILL, PRICE_SKILL]
    assert all(services.skill_is_usable(skill) for skill in result.items)


def test_pickers_use_team_key_client(alice, team, monkeypatch):
    seen = []

    def handler(request):
        seen.append((request.url.path, request.headers["X-Browser-Use-API-Key"], dict(request.url.params)))
        return httpx.Response(200, json={"items": [], "totalItems": 0, "pageNumber": 1, "pageSize": 20})

    client = BrowserUseClient(httpx.Client(base_url="http://api.test/api/v2", headers={"X-Browser-Use-API-Key": "bu_team"},
                                           transport=httpx.MockTransport(handler)))
    monkeypatch.setattr(services, "client_for_team", lambda given: client if given == team else None)

    services.profiles_search(team=team, query="  shop ")
    services.skills_search(team=team, query="x" * 300)

    assert seen[0] == ("/api/v2/profiles", "bu_team", {"pageSize": "20", "pageNumber": "1", "query": "shop"})
    assert seen[1][0] == "/api/v2/skills"
    assert seen[1][2]["isEnabled"] == "true"
    assert len(seen[1][2]["query"]) == services.SKILL_QUERY_MAX


def test_other_team_session_not_in_picker(client, alice, oscar):
    client.force_login(oscar)
    client.post(reverse("tasks_ui:session-new"), {"keep_alive": "on", "name": "Oscar's browser"})
    client.force_login(alice)

    html = client.get(reverse("tasks_ui:session-picker")).content.decode()

    assert escape("Oscar's browser") not in html
    assert "No active session" in html
