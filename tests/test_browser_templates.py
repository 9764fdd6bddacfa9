"""Templates in headless Chromium: save one with two variables, launch it, run it again, edit and restore it.

A second test follows a batch's grid while the background worker launches its rows.
"""

import re

import pytest
from playwright.sync_api import expect

from tasks_ui.models import Batch, Run, TaskTemplate
from tasks_ui.sandbox.models import SandboxTask
from tasks_ui.services import templates as services
from tests.test_batches import run_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def without_run_id(request: dict) -> dict:
    return {**request, "metadata": {k: v for k, v in request.get("metadata", {}).items() if k != "dashboardRunId"}}

def test_template_save_launch_rerun_edit_restore(logged_in_page, live_server):
    page = logged_in_page

    # Compose a task with two variables and save it as a template.
    page.click("text=New task")
    page.fill("#id_task", "Find the price of {{product}} in {{shop}}")
    page.fill("#id_start_url", "{{shop}}")
    page.click("#save-as-template")
    expect(page.locator("h1")).to_have_text("New template")
    expect(page.locator("[data-variable]")).to_have_count(2)
    page.fill("#id_name", "Price check")
    page.select_option("#id_variables-1-type", "url")
    page.fill("#id_variables-1-default", "https://shop.example.com")
    page.click("#save-template")
    expect(page.locator(".message--success")).to_contain_text("Template “Price check” saved.")
    template = TaskTemplate.objects.get()
    assert services.latest_version(template).variables[1] == {
        "name": "shop", "type": "url", "default": "https://shop.example.com", "required": True, "choices": [],
    }

    # Launch it: the preview follows the typed value before anything is sent.
    page.click("#launch-template")
    page.fill("#id_var_product", "coffee")
    expect(page.locator("#launch-preview pre")).to_contain_text('"task": "Find the price of coffee in https://shop.example.com"')
    assert Run.objects.count() == 0
    page.click("#launch-button")
    expect(page.locator(".message--success")).to_contain_text("Task launched from “Price check”.")
    first = Run.objects.get()
    assert SandboxTask.objects.get(pk=first.task_id).request["startUrl"] == "https://shop.example.com"

    # Run it again from the history.
    page.click("text=History")
    page.locator(f"#run-{first.pk} .run-again").click()
    expect(page.locator(".compose__preview pre")).to_contain_text("Find the price of coffee")
    page.click("#run-again-button")
    expect(page.locator(".message--success")).to_contain_text("Task launched again")
    second = Run.objects.exclude(pk=first.pk).get()
    # The same request, apart from each run's own id in the metadata.
    assert second.template == template
    assert without_run_id(second.request) == without_run_id(first.request)
    assert second.request["metadata"]["dashboardRunId"] == str(second.pk)

    # Edit it into version 2, then restore version 1 as version 3.
    page.click("text=Template: Price check")
    page.click("#edit-template")
    page.fill("#id_task", "Compare the price of {{product}} in {{shop}}")
    page.click("#save-template")
    expect(page.locator(".message--success")).to_contain_text("Template saved as version 2.")
    expect(page.locator("#version-2 .diff")).to_contain_text('+    "task": "Compare the price of {{product}} in {{shop}}"')
    expect(page.locator("#template-runs tbody tr")).to_have_count(2)

    page.click("text=Restore version 1")
    expect(page.locator(".message--success")).to_contain_text("Version 1 restored as version 3.")
    expect(page.locator("h1 .badge--version")).to_have_text("version 3")
    versions = list(template.versions.order_by("number"))
    assert [version.number for version in versions] == [1, 2, 3]
    assert versions[2].request == versions[0].request
    assert versions[2].request["task"] == "Find the price of {{product}} in {{shop}}"


def test_batch_grid_follows_worker(logged_in_page, live_server, team, alice, tmp_path):
    page = logged_in_page
    template = services.template_create(
        team=team, user=alice, name="Weather", description="", shared=True,
        request={"task": "Report the weather in {{city}}", "maxSteps": 4},
        variables=[{"name": "city", "type": "text", "default": "", "required": True, "choices": []}], secrets={},
    )
    upload = tmp_path / "cities.csv"
    upload.write_text("city\nParis\nRome\n\nOslo\n")

    page.goto(f"{live_server.url}/templates/{template.pk}/")
    page.click("text=Launch a batch from CSV")
    page.set_input_files("#id_file", str(upload))
    page.click("#upload-button")
    expect(page.locator("#task-count")).to_have_text("3")
    expect(page.locator(".preview-row pre").first).to_contain_text('"task": "Report the weather in Paris"')
    page.click("#start-batch")
    expect(page.locator("#batch-status")).to_have_text("running")
    expect(page.locator("#row-1")).to_have_attribute("data-status", "queued")

    run_worker(lambda: Batch.objects.get().status == Batch.FINISHED, timeout=30)

    # The grid refreshes by itself until every row has finished.
    expect(page.locator("#batch-status")).to_have_text("finished", timeout=15_000)
    expect(page.locator("tr[data-status=finished]")).to_have_count(3)
    expect(page.locator("#batch-live")).not_to_have_attribute("hx-trigger", re.compile("."))
    with page.expect_download() as download:
        page.click("#export-batch")
    assert download.value.suggested_filename.startswith("weather-results-")
