"""Teams in a real browser: an owner sets up a team, a member joins by link and launches, a viewer only reads."""

import pytest
from playwright.sync_api import expect

from tasks_ui.models import Membership, Run, Team

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def _invitation_link(page, role: str) -> str:
    page.select_option("#invitations select[name=role]", role)
    page.click("text=Create an invitation link")
    return page.locator("#invitation-url").input_value()


def test_team_owner_member_and_viewer(logged_in_page, live_server, browser, settings, django_user_model):
    owner = logged_in_page
    base = live_server.url

    owner.goto(f"{base}/teams/new/")
    owner.fill("#id_name", "Growth")
    owner.click("text=Create the team")
    expect(owner.locator("h1")).to_have_text("Growth")

    owner.fill("#id_api_key", settings.SANDBOX_API_KEY)
    owner.fill("#id_base_url", f"{base}/sandbox/api/v2")
    owner.click("text=Check and save the key")
    expect(owner.locator(".message--success")).to_contain_text("was saved, encrypted")
    expect(owner.locator("#api-key")).to_contain_text(f"…{settings.SANDBOX_API_KEY[-4:]}")
    expect(owner.locator("#id_api_key")).to_have_value("")

    member_link = _invitation_link(owner, "member")
    viewer_link = _invitation_link(owner, "viewer")

    django_user_model.objects.create_user("mia", password=PASSWORD)
    member_page = browser.new_context().new_page()
    _log_in(member_page, base, "mia")
    member_page.goto(member_link)
    member_page.click("text=Join the team")
    expect(member_page.locator(".message--success")).to_contain_text("You joined Growth as member")

    member_page.click("text=New task")
    member_page.fill("#id_task", "Collect the pricing plans of example.com")
    member_page.click("#launch-button")
    expect(member_page.locator(".message--success")).to_contain_text("Task launched")

    owner.goto(f"{base}/")
    row = owner.locator("table.runs tbody tr").first
    expect(row).to_contain_text("Collect the pricing plans")
    expect(row).to_contain_text("mia")

    django_user_model.objects.create_user("vic", password=PASSWORD)
    viewer_context = browser.new_context()
    viewer_page = viewer_context.new_page()
    _log_in(viewer_page, base, "vic")
    viewer_page.goto(viewer_link)
    viewer_page.click("text=Join the team")
    viewer_page.goto(f"{base}/")
    expect(viewer_page.locator("table.runs")).to_contain_text("Collect the pricing plans")
    expect(viewer_page.locator("text=New task")).to_have_count(0)

    csrf = next(cookie["value"] for cookie in viewer_context.cookies() if cookie["name"] == "csrftoken")
    response = viewer_page.request.post(
        f"{base}/tasks/new/",
        form={"task": "Sneaky launch", "llm": "browser-use-2.0", "max_steps": "100", "vision": "true", "skills_mode": "none"},
        headers={"X-CSRFToken": csrf, "Referer": f"{base}/"},
    )
    assert response.status == 403
    assert not Run.objects.filter(task_text="Sneaky launch").exists()
    assert Membership.objects.get(user__username="vic", team=Team.objects.get(name="Growth")).role == "viewer"
