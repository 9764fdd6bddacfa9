"""A keep-alive session in headless Chromium: create it, run a task and a follow-up in it, watch, stop it."""

import re

import pytest
from playwright.sync_api import expect

from tasks_ui.models import BrowserSession, Run
from tasks_ui.sandbox.catalog import PROFILES
from tasks_ui.sandbox.models import SandboxSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP_PROFILE = PROFILES[0]["id"]
# The live-view block of a session, not its status line below the frame.
LIVE_BLOCK = re.compile(r".*/sessions/[0-9a-f-]{36}/live/(\?.*)?$")


def test_session_with_follow_up(logged_in_page, live_server, settings):
    settings.SANDBOX_STEP_SECONDS = 0.3
    page = logged_in_page

    # A keep-alive session with a profile picked from the list and a proxy country.
    page.click("nav >> text=Sessions")
    page.click("text=New session")
    page.fill("#id_name", "Shop checkout")
    page.fill("#id_profile_id-search", "shop")
    expect(page.locator("#id_profile_id-results")).not_to_contain_text("Support desk")
    page.check(f"input[data-fills=id_profile_id][value='{SHOP_PROFILE}']")
    expect(page.locator("#id_profile_id")).to_have_value(SHOP_PROFILE)
    page.select_option("#id_proxy_country", "de")
    expect(page.locator("#id_keep_alive")).to_be_checked()
    page.click("#create-session")
    expect(page.locator(".message--success")).to_contain_text("Session created")
    record = BrowserSession.objects.get()
    session_id = str(record.session_id)
    assert record.request == {"profileId": SHOP_PROFILE, "proxyCountryCode": "de"}
    expect(page.locator(".summary")).to_contain_text("Shop account")

    # The first task, from the session page.
    page.click("text=New task in this session")
    expect(page.locator("#id_session_id")).to_have_value(session_id)
    expect(page.locator("#session-pick")).to_have_value(session_id)
    expect(page.locator("#session-ready")).to_be_visible()
    page.fill("#id_task", "Open the shop and put the blue mug in the cart")

    # The sandbox responds at once, so the first request for the live view is held back to see the placeholder.
    held_routes = []
    page.route(LIVE_BLOCK, lambda route: held_routes.append(route))
    page.click("#launch-button")
    expect(page.locator(".message--success")).to_contain_text("Task launched")
    first = Run.objects.get()
    assert str(first.session_id) == session_id
    placeholder = page.locator("#live-section [data-live-state=loading]")
    expect(placeholder).to_contain_text("Loading the live view")
    page.wait_for_timeout(200)
    assert held_routes, "the live view was not requested"
    held_routes[0].continue_()
    page.unroute(LIVE_BLOCK)
    frame = page.locator(f"#live-frame-{session_id} iframe")
    expect(frame).to_have_attribute("src", f"/sandbox/live/{session_id}/")
    expect(placeholder).to_have_count(0)
    expect(page.frame_locator(f"#live-frame-{session_id} iframe").locator(".live-view__label")).to_contain_text(
        f"session {session_id} is active"
    )

    # The follow-up, from the first run's page once its task finished.
    expect(page.locator("#run-live .summary .badge")).to_have_text("finished", timeout=20_000)
    page.click("#continue-in-session")
    expect(page.locator("#id_session_id")).to_have_value(session_id)
    expect(page.locator("#previous-task")).to_contain_text("Open the shop and put the blue mug in the cart")
    page.fill("#id_task", "Now go to the checkout and read the total")
    page.click("#launch-button")
    expect(page.locator(".message--success")).to_contain_text("Task launched")
    follow_up = Run.objects.exclude(pk=first.pk).get()
    assert follow_up.session_id == first.session_id
    expect(page.locator(f"#live-frame-{session_id} iframe")).to_be_visible()

    # Stopping the session from its page, in another tab, turns the follow-up's live view into a notice.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/sessions/{session_id}/")
    expect(other.locator(".conversation")).to_contain_text("Now go to the checkout and read the total")
    other.click("#stop-session")
    expect(other.locator("#session-status")).to_have_text("stopped")
    assert SandboxSession.objects.get(pk=session_id).status == "stopped"
    expect(page.locator(f"#live-frame-{session_id} [data-live-state=stopped]")).to_be_visible(timeout=15_000)
    expect(page.locator(f"#live-status-{session_id}")).to_contain_text("stopped")

    page.reload()
    expect(page.locator("#live-section [data-live-state=stopped]")).to_contain_text("This session has stopped")
    expect(page.locator("#continue-in-session")).to_have_count(0)
