"""The request body built from the compose form, the way back into the form, and 422 locations.

Bodies are built from real form input (ComposeForm.cleaned_data). Each is also checked against the
official SDK's request model (browser_use_sdk 3.12.1, generated v2 models). A misspelt API field name
or a wrong value type then fails, even where the expected dict of a case has the same mistake.
"""

import json

import pytest
from browser_use_sdk.generated.v2.models import CreateTaskRequest

from tasks_ui.forms import ComposeForm
from tasks_ui.payloads import (
    SECRET_MASK,
    build_task_request,
    form_field_for_error_location,
    form_initial_from_request,
    mask_secrets,
    with_run_id,
)
from tests.conftest import compose_data

TASK = "Open example.com and report the page title"
SESSION_ID = "5b0b1c43-6d0e-4b8a-9a61-3f1e2d7c8a01"
PROFILE_ID = "9c7e2b10-2f44-4d5e-8b9a-7d6c5b4a3f02"
SKILL_IDS = ["0c8f2f8e-3a51-4d6b-9f0e-8a7b6c5d4e3f", "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a03"]
SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def body_from_form(**fields) -> dict:
    form = ComposeForm(compose_data(**fields))
    assert form.is_valid(), (form.task.errors, form.metadata.errors, form.secrets.errors)
    return build_task_request(form.task.cleaned_data, form.metadata.pairs(), form.secrets.pairs())


def as_sent_by_sdk(body: dict) -> dict:
    """Return `body` as the SDK's request model reads it: unknown keys dropped, values of its types."""
    model = CreateTaskRequest.model_validate(body)
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def test_defaults_send_only_task():
    body = body_from_form()

    assert body == {"task": TASK}


def test_defaults_omitted_when_set_explicitly():
    body = body_from_form(
        llm="browser-use-2.0", max_steps="100", vision="true", proxy_country="", skills_mode="none",
        thinking_level="", judge_llm="", structured_output="", allowed_domains="", system_prompt_extension="",
    )

    assert body == {"task": TASK}


FIELD_CASES = [
    pytest.param({"llm": "o3"}, {"llm": "o3"}, id="llm"),
    pytest.param({"start_url": "https://news.ycombinator.com"}, {"startUrl": "https://news.ycombinator.com"}, id="start-url"),
    pytest.param({"start_url": "news.ycombinator.com"}, {"startUrl": "https://news.ycombinator.com"}, id="start-url-scheme"),
    pytest.param({"max_steps": "25"}, {"maxSteps": 25}, id="max-steps"),
    pytest.param({"max_steps": "1"}, {"maxSteps": 1}, id="max-steps-min"),
    pytest.param(
        {"structured_output": json.dumps(SCHEMA, indent=2)},
        {"structuredOutput": json.dumps(SCHEMA, separators=(",", ":"))},
        id="structured-output",
    ),
    pytest.param({"session_id": SESSION_ID}, {"sessionId": SESSION_ID}, id="session-id"),
    pytest.param({"profile_id": PROFILE_ID}, {"sessionSettings": {"profileId": PROFILE_ID}}, id="profile"),
    pytest.param({"proxy_country": ""}, {}, id="proxy-default"),
    pytest.param({"proxy_country": "none"}, {"sessionSettings": {"proxyCountryCode": None}}, id="proxy-none"),
    pytest.param({"proxy_country": "de"}, {"sessionSettings": {"proxyCountryCode": "de"}}, id="proxy-de"),
    pytest.param({"proxy_country": "uk"}, {"sessionSettings": {"proxyCountryCode": "uk"}}, id="proxy-uk"),
    pytest.param(
        {"screen_width": "1440", "screen_height": "900"},
        {"sessionSettings": {"browserScreenWidth": 1440, "browserScreenHeight": 900}},
        id="screen",
    ),
    pytest.param({"enable_recording": "on"}, {"sessionSettings": {"enableRecording": True}}, id="recording"),
    pytest.param(
        {"profile_id": PROFILE_ID, "proxy_country": "none", "screen_width": "320", "screen_height": "3456",
         "enable_recording": "on"},
        {"sessionSettings": {"profileId": PROFILE_ID, "proxyCountryCode": None, "browserScreenWidth": 320,
                             "browserScreenHeight": 3456, "enableRecording": True}},
        id="all-session-settings",
    ),
    pytest.param({"metadata": {"campaign": "winter", "owner": "ops"}}, {"metadata": {"campaign": "winter", "owner": "ops"}}, id="metadata"),
    pytest.param({"secrets": {"Example.com": "hunter2"}}, {"secrets": {"example.com": "hunter2"}}, id="secrets"),
    pytest.param(
        {"allowed_domains": "example.com\n*.example.com\nhttp*://example.org"},
        {"allowedDomains": ["example.com", "*.example.com", "http*://example.org"]},
        id="allowed-domains",
    ),
    pytest.param({"op_vault_id": "vault-42"}, {"opVaultId": "vault-42"}, id="vault"),
    pytest.param({"highlight_elements": "on"}, {"highlightElements": True}, id="highlight"),
    pytest.param({"flash_mode": "on"}, {"flashMode": True}, id="flash"),
    pytest.param({"thinking": "on"}, {"thinking": True}, id="thinking"),
    pytest.param({"thinking_level": "disabled"}, {"thinkingLevel": "disabled"}, id="thinking-level-disabled"),
    pytest.param({"thinking_level": "high"}, {"thinkingLevel": "high"}, id="thinking-level-high"),
    pytest.param({"vision": "true"}, {}, id="vision-on"),
    pytest.param({"vision": "false"}, {"vision": False}, id="vision-off"),
    pytest.param({"vision": "auto"}, {"vision": "auto"}, id="vision-auto"),
    pytest.param({"system_prompt_extension": "Answer in French."}, {"systemPromptExtension": "Answer in French."}, id="prompt"),
    pytest.param({"judge": "on"}, {"judge": True}, id="judge"),
    pytest.param(
        {"judge": "on", "judge_ground_truth": "42", "judge_llm": "gemini-flash-latest"},
        {"judge": True, "judgeGroundTruth": "42", "judgeLlm": "gemini-flash-latest"},
        id="judge-full",
    ),
    pytest.param({"skills_mode": "all"}, {"skillIds": ["*"]}, id="skills-all"),
    pytest.param({"skills_mode": "selected", "skill_ids": "\n".join(SKILL_IDS)}, {"skillIds": SKILL_IDS}, id="skills-selected"),
    pytest.param({"skills_mode": "none"}, {}, id="skills-none"),
]


@pytest.mark.parametrize(("fields", "expected"), FIELD_CASES)
def test_build_task_request_maps(fields, expected):
    body = body_from_form(**fields)

    assert body == {"task": TASK, **expected}
    assert as_sent_by_sdk(body) == body


def test_value_types_match_api():
    body = body_from_form(
        max_steps="7", screen_width="800", screen_height="600", structured_output=json.dumps(SCHEMA), judge="on",
    )

    assert type(body["maxSteps"]) is int
    assert type(body["sessionSettings"]["browserScreenWidth"]) is int
    assert type(body["structuredOutput"]) is str
    assert json.loads(body["structuredOutput"]) == SCHEMA
    assert body["judge"] is True


def test_session_id_wins_over_settings():
    # The form rejects settings beside a session ID, and the builder drops them even when they get through.
    data = {"task": TASK, "session_id": SESSION_ID, "proxy_country": "de", "enable_recording": True}

    body = build_task_request(data, {}, {})

    assert body == {"task": TASK, "sessionId": SESSION_ID}


def test_judge_fields_need_judge():
    data = {"task": TASK, "judge": False, "judge_ground_truth": "42", "judge_llm": "o3"}

    assert build_task_request(data, {}, {}) == {"task": TASK}


def test_blank_ground_truth_omitted():
    assert body_from_form(judge="on", judge_ground_truth="   ") == {"task": TASK, "judge": True}


def test_mask_secrets_keeps_domains():
    body = {"task": TASK, "secrets": {"example.com": "hunter2", "shop.example.com": "pw"}}

    masked = mask_secrets(body)

    assert masked["secrets"] == {"example.com": SECRET_MASK, "shop.example.com": SECRET_MASK}
    assert body["secrets"]["example.com"] == "hunter2"
    assert "hunter2" not in json.dumps(masked)


def test_mask_secrets_without_secrets():
    assert mask_secrets({"task": TASK}) == {"task": TASK}


def test_with_run_id_adds_metadata():
    body = {"task": TASK, "metadata": {"campaign": "winter"}}

    sent = with_run_id(body, "run-1")

    assert sent["metadata"] == {"campaign": "winter", "dashboardRunId": "run-1"}
    assert body["metadata"] == {"campaign": "winter"}


def post_data_from_initial(initial: dict, metadata: dict) -> dict:
    """Return the POST data a browser sends for a compose form pre-filled with `initial`."""
    fields = {}
    for name, value in initial.items():
        if value is True:
            fields[name] = "on"
        elif value not in (None, False):
            fields[name] = value
    return compose_data(metadata=metadata, **fields)


FULL_REQUEST = {
    "task": "Find the cheapest flight from Mumbai to Delhi",
    "llm": "claude-sonnet-4-5-20250929",
    "startUrl": "https://www.goibibo.com/flights/",
    "maxSteps": 40,
    "structuredOutput": json.dumps(SCHEMA, separators=(",", ":")),
    "sessionSettings": {
        "profileId": PROFILE_ID,
        "proxyCountryCode": "in",
        "browserScreenWidth": 1920,
        "browserScreenHeight": 1080,
        "enableRecording": True,
    },
    "metadata": {"campaign": "winter", "team": "travel"},
    "secrets": {"goibibo.com": "hunter2"},
    "allowedDomains": ["goibibo.com", "*.goibibo.com"],
    "opVaultId": "vault-42",
    "highlightElements": True,
    "flashMode": True,
    "thinking": True,
    "thinkingLevel": "medium",
    "vision": "auto",
    "systemPromptExtension": "Prices are in INR.",
    "judge": True,
    "judgeGroundTruth": "A flight under 5000 INR",
    "judgeLlm": "o3",
    "skillIds": SKILL_IDS,
}

ROUND_TRIP_CASES = [
    pytest.param(FULL_REQUEST, id="full"),
    pytest.param({"task": TASK}, id="minimal"),
    pytest.param({"task": TASK, "sessionId": SESSION_ID, "vision": False, "skillIds": ["*"]}, id="session-id"),
    pytest.param({"task": TASK, "sessionSettings": {"proxyCountryCode": None}}, id="no-proxy"),
    pytest.param({"task": TASK, "metadata": {"k": "v"}, "judge": True}, id="metadata-judge"),
]


@pytest.mark.parametrize("request_body", ROUND_TRIP_CASES)
def test_form_initial_round_trips(request_body):
    stored = mask_secrets(with_run_id(request_body, "3f2a1c4e-0000-4000-8000-000000000001"))

    initial, metadata = form_initial_from_request(stored)
    form = ComposeForm(post_data_from_initial(initial, metadata))

    assert form.is_valid(), (form.task.errors, form.metadata.errors)
    rebuilt = build_task_request(form.task.cleaned_data, form.metadata.pairs(), form.secrets.pairs())
    expected = {key: value for key, value in request_body.items() if key != "secrets"}
    assert rebuilt == expected


def test_form_initial_leaves_secrets_out():
    initial, metadata = form_initial_from_request(mask_secrets(FULL_REQUEST))

    assert SECRET_MASK not in json.dumps([initial, metadata])
    assert "hunter2" not in json.dumps([initial, metadata])
    assert "dashboardRunId" not in metadata


def test_form_initial_fills_unbound_form():
    initial, metadata = form_initial_from_request(FULL_REQUEST)

    form = ComposeForm(initial=initial, metadata=metadata)

    assert form.task["proxy_country"].value() == "in"
    assert form.task["vision"].value() == "auto"
    assert form.task["allowed_domains"].value() == "goibibo.com\n*.goibibo.com"
    assert [row["key"].value() for row in form.metadata.forms[:2]] == ["campaign", "team"]
    assert {"output", "session", "agent", "security", "judge", "skills", "metadata"} <= form.open_sections()


LOCATION_CASES = [
    pytest.param(["body", "task"], "task", id="task"),
    pytest.param(["body", "maxSteps"], "max_steps", id="max-steps"),
    pytest.param(["body", "llm"], "llm", id="llm"),
    pytest.param(["body", "startUrl"], "start_url", id="start-url"),
    pytest.param(["body", "structuredOutput"], "structured_output", id="structured-output"),
    pytest.param(["body", "sessionId"], "session_id", id="session-id"),
    pytest.param(["body", "sessionSettings", "proxyCountryCode"], "proxy_country", id="proxy"),
    pytest.param(["body", "sessionSettings", "browserScreenWidth"], "screen_width", id="width"),
    pytest.param(["body", "sessionSettings", "browserScreenHeight"], "screen_height", id="height"),
    pytest.param(["body", "sessionSettings", "profileId"], "profile_id", id="profile"),
    pytest.param(["body", "sessionSettings", "enableRecording"], "enable_recording", id="recording"),
    pytest.param(["body", "allowedDomains", 2], "allowed_domains", id="domain-item"),
    pytest.param(["body", "skillIds", 0], "skill_ids", id="skill-item"),
    pytest.param(["body", "vision", "bool"], "vision", id="vision-union-branch"),
    pytest.param(["body", "thinkingLevel"], "thinking_level", id="thinking-level"),
    pytest.param(["body", "systemPromptExtension"], "system_prompt_extension", id="prompt"),
    pytest.param(["body", "judgeGroundTruth"], "judge_ground_truth", id="ground-truth"),
    pytest.param(["body", "judgeLlm"], "judge_llm", id="judge-llm"),
    pytest.param(["body", "opVaultId"], "op_vault_id", id="vault"),
    pytest.param(["body", "metadata", "campaign"], "metadata", id="metadata-key"),
    pytest.param(["body", "metadata"], "metadata", id="metadata"),
    pytest.param(["body", "secrets", "example.com"], "secrets", id="secrets"),
    pytest.param(["body"], None, id="whole-body"),
    pytest.param(["body", 0], None, id="json-decode"),
    pytest.param(["body", "sessionSettings"], None, id="session-settings-object"),
    pytest.param(["body", "somethingNew"], None, id="unknown-field"),
    pytest.param(["query", "pageSize"], None, id="query"),
    pytest.param([], None, id="empty"),
]


@pytest.mark.parametrize(("loc", "field"), LOCATION_CASES)
def test_form_field_for_error_location(loc, field):
    assert form_field_for_error_location(loc) == field
