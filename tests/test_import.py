"""Pasting a create-task body into the compose form: each bad value gets its own message."""

import json

import pytest
from django.urls import reverse

from tasks_ui.models import Run

pytestmark = pytest.mark.django_db

BAD_BODIES = [
    ({"task": "x", "metadata": {f"k{i}": "v" for i in range(11)}}, "metadata has 11 pairs; the API accepts at most 10"),
    ({"task": "x", "metadata": {"count": 3}}, "metadata value of “count” is a number"),
    ({"task": "x", "metadata": {"flag": True}}, "metadata value of “flag” is a boolean"),
    ({"task": "x", "metadata": {"tags": ["a"]}}, "metadata value of “tags” is a list"),
    ({"task": "x", "structuredOutput": {"type": "object"}}, "structuredOutput is a JSON object, but the API expects the schema as a string"),
    ({"task": "x", "sessionSettings": {"proxyCountryCode": "gb"}}, "the API's code for the United Kingdom is “uk”"),
    ({"task": "x", "sessionSettings": {"proxyCountryCode": "DE"}}, "must be lowercase: “de”"),
    ({"task": "x", "sessionSettings": {"browserScreenWidth": 1280}}, "browserScreenWidth without browserScreenHeight"),
    ({"task": ""}, "task is empty or missing"),
    ({"llm": "gpt-4.1"}, "task is empty or missing"),
    ({"task": "x", "maxStep": 5}, "Unknown field maxStep"),
    (["task"], "must be a JSON object, not a list"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_import_is_explained(body, message, alice_client):
    text = json.dumps(body)

    response = alice_client.post(reverse("tasks_ui:compose"), {"request_json": text, "import_request": "1"})

    page = response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    assert response.status_code == 400
    assert message in page
    assert Run.objects.count() == 0


def test_not_json_is_explained(alice_client):
    response = alice_client.post(reverse("tasks_ui:compose"), {"request_json": "{task: 1", "import_request": "1"})

    assert "This is not valid JSON" in response.content.decode()


def test_good_import_fills_form(alice_client):
    body = {
        "task": "Find flights from Berlin to Lisbon",
        "llm": "gemini-flash-latest",
        "maxSteps": 40,
        "metadata": {"team": "travel"},
        "secrets": {"example.com": "typed-secret"},
        "sessionSettings": {"proxyCountryCode": None, "browserScreenWidth": 1280, "browserScreenHeight": 800},
        "judge": True,
        "judgeGroundTruth": "A list of flights",
        "skillIds": ["*"],
        "vision": "auto",
    }

    response = alice_client.post(reverse("tasks_ui:compose"), {"request_json": json.dumps(body), "import_request": "1"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.is_valid()
    preview = json.loads(response.context["preview"])
    assert preview["maxSteps"] == 40
    assert preview["sessionSettings"] == {"proxyCountryCode": None, "browserScreenWidth": 1280, "browserScreenHeight": 800}
    assert preview["secrets"] == {"example.com": "********"}
    assert preview["skillIds"] == ["*"]
    assert preview["vision"] == "auto"
    assert Run.objects.count() == 0


def test_import_shows_field_limits(alice_client):
    body = {"task": "x", "maxSteps": 0, "sessionSettings": {"browserScreenWidth": 100, "browserScreenHeight": 800}}

    response = alice_client.post(reverse("tasks_ui:compose"), {"request_json": json.dumps(body), "import_request": "1"})

    errors = response.context["form"].task.errors
    assert "max_steps" in errors
    assert "screen_width" in errors
