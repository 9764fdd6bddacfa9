"""The whole path a person takes, in headless Chromium: compose, launch, watch it finish, read the result."""

import json
import re

import pytest
from playwright.sync_api import expect

from tasks_ui.models import Run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "type": "object",
    "properties": {"posts": {"type": "array", "items": {"type": "object", "properties": {"title": {"type": "string"}, "url": {"type": "string"}}, "required": ["title"]}}},
    "required": ["posts"],
}


def test_compose_launch_and_watch_to_finish(logged_in_page, live_server, settings):
    settings.SANDBOX_STEP_SECONDS = 0.6
    page = logged_in_page

    page.click("text=New task")
    page.fill("#id_task", "Return the titles of the three newest posts on the Django weblog")
    page.fill("#id_start_url", "https://www.djangoproject.com/weblog/")

    page.click("#section-output summary")
    page.fill("#id_structured_output", json.dumps(SCHEMA))

    page.click("#section-session summary")
    page.select_option("#id_proxy_country", "de")
    page.fill("#id_screen_width", "1440")
    page.fill("#id_screen_height", "900")
    page.check("#id_enable_recording")

    page.click("#section-security summary")
    page.fill("#id_allowed_domains", "djangoproject.com\n*.djangoproject.com")
    page.fill("[name=secrets-0-domain]", "djangoproject.com")
    page.fill("[name=secrets-0-credential]", "pa55-word-e2e")

    page.click("#section-judge summary")
    page.check("#id_judge")
    page.fill("#id_judge_ground_truth", "Three post titles")

    page.click("#section-metadata summary")
    page.fill("[name=metadata-0-key]", "campaign")
    page.fill("[name=metadata-0-value]", "winter")

    # The request preview follows the form, with the credential masked.
    preview = page.locator("#payload-preview pre")
    expect(preview).to_contain_text('"judgeGroundTruth": "Three post titles"')
    expect(preview).to_contain_text('"djangoproject.com": "********"')
    expect(preview).not_to_contain_text("pa55-word-e2e")

    page.click("#launch-button")
    expect(page.locator(".message--success")).to_contain_text("Task launched")
    run = Run.objects.get()

    # The history row goes from an open status to finished without a reload.
    page.click("text=History")
    row = page.locator(f"#run-{run.pk}")
    expect(row.locator(".badge")).to_have_text(re.compile("created|started"))
    expect(row.locator(".badge")).to_have_text("finished", timeout=20_000)
    expect(row).to_contain_text("pass")
    expect(page.locator("#run-list")).not_to_have_attribute("hx-trigger", re.compile("."))

    row.locator("a").first.click()
    expect(page.locator(".summary")).to_contain_text("finished")
    expect(page.locator(".summary")).to_contain_text("$0.")
    expect(page.locator("text=The output matches the schema.")).to_be_visible()
    expect(page.locator(".tree .json-object dt").first).to_have_text("posts")
    first_shot = page.locator("img.step__shot").first
    expect(first_shot).to_be_visible()
    first_shot.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first_shot.element_handle())
    expect(page.locator(".summary")).to_contain_text("pass")
