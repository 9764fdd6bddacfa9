"""The compose form's checks: each field's limits and bad values, and the metadata and secret rows.

Each rejected case names the one field that must carry the error and a part of its message, so a
message that lands on the wrong field, or a second unexpected error, fails the case.
"""

import json

import pytest

from tasks_ui.forms import MAX_SECRETS, USER_METADATA_PAIRS, ComposeForm
from tests.conftest import compose_data

SESSION_ID = "5b0b1c43-6d0e-4b8a-9a61-3f1e2d7c8a01"
SKILL_ID = "0c8f2f8e-3a51-4d6b-9f0e-8a7b6c5d4e3f"
VALID_SCHEMA = json.dumps({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]})


def form_errors(form: ComposeForm) -> dict[str, list[str]]:
    """Return every error of the bundled form, keyed by field name or "metadata-1-key" style row names.

    Formset-wide errors are keyed "metadata" and "secrets".
    """
    errors = {name: list(messages) for name, messages in form.task.errors.items()}
    for formset in (form.metadata, form.secrets):
        for index, row_errors in enumerate(formset.errors):
            for name, messages in row_errors.items():
                errors[f"{formset.prefix}-{index}-{name}"] = list(messages)
        if formset.non_form_errors():
            errors[formset.prefix] = list(formset.non_form_errors())
    return errors


def bound_form(**fields) -> ComposeForm:
    form = ComposeForm(compose_data(**fields))
    form.is_valid()
    return form


REJECTED = [
    # Basics
    pytest.param({"task": ""}, "task", "Describe the task for the agent", id="task-empty"),
    pytest.param({"task": "  \n\t "}, "task", "Describe the task for the agent", id="task-blank"),
    pytest.param({"task": "x" * 50_001}, "task", "at most 50000 characters (it has 50001)", id="task-max-plus-one"),
    pytest.param({"start_url": "not a url"}, "start_url", "Enter a valid URL", id="start-url-garbage"),
    pytest.param({"start_url": "https://example.com/" + "a" * 2040}, "start_url", "at most 2048", id="start-url-too-long"),
    pytest.param({"llm": "gpt-99"}, "llm", "gpt-99 is not one of the available choices", id="llm-unknown"),
    pytest.param({"llm": ""}, "llm", "required", id="llm-missing"),
    pytest.param({"max_steps": "0"}, "max_steps", "greater than or equal to 1", id="max-steps-zero"),
    pytest.param({"max_steps": "-5"}, "max_steps", "greater than or equal to 1", id="max-steps-negative"),
    pytest.param({"max_steps": "10001"}, "max_steps", "less than or equal to 10000", id="max-steps-max-plus-one"),
    pytest.param({"max_steps": "ten"}, "max_steps", "Enter a whole number", id="max-steps-not-number"),
    pytest.param({"max_steps": "2.5"}, "max_steps", "Enter a whole number", id="max-steps-fraction"),
    pytest.param({"max_steps": ""}, "max_steps", "required", id="max-steps-missing"),
    # Output
    pytest.param({"structured_output": "{bad"}, "structured_output", "not valid JSON", id="schema-not-json"),
    pytest.param({"structured_output": "[1, 2]"}, "structured_output", "must be a JSON object", id="schema-array"),
    pytest.param({"structured_output": '"text"'}, "structured_output", "must be a JSON object", id="schema-string"),
    pytest.param(
        {"structured_output": '{"type": "nope"}'}, "structured_output", "not a valid JSON Schema at type",
        id="schema-bad-type",
    ),
    pytest.param(
        {"structured_output": '{"type": "object", "properties": {"n": {"minimum": "one"}}}'},
        "structured_output", "not a valid JSON Schema at properties/n/minimum", id="schema-bad-keyword",
    ),
    pytest.param(
        {"structured_output": '{"type": "object", "required": "title"}'}, "structured_output",
        "not a valid JSON Schema at required", id="schema-required-not-list",
    ),
    # Session
    pytest.param({"session_id": "nope"}, "session_id", "Enter a valid UUID", id="session-id-garbage"),
    pytest.param({"profile_id": "1234"}, "profile_id", "Enter a valid UUID", id="profile-id-garbage"),
    pytest.param({"proxy_country": "gb"}, "proxy_country", "code for the United Kingdom is “uk”", id="proxy-gb"),
    pytest.param({"proxy_country": "GB"}, "proxy_country", "code for the United Kingdom is “uk”", id="proxy-gb-upper"),
    pytest.param({"proxy_country": "xx"}, "proxy_country", "xx is not one of the available choices", id="proxy-unknown"),
    pytest.param(
        {"screen_width": "319", "screen_height": "800"}, "screen_width", "greater than or equal to 320",
        id="width-min-minus-one",
    ),
    pytest.param(
        {"screen_width": "6145", "screen_height": "800"}, "screen_width", "less than or equal to 6144",
        id="width-max-plus-one",
    ),
    pytest.param(
        {"screen_width": "1280", "screen_height": "319"}, "screen_height", "greater than or equal to 320",
        id="height-min-minus-one",
    ),
    pytest.param(
        {"screen_width": "1280", "screen_height": "3457"}, "screen_height", "less than or equal to 3456",
        id="height-max-plus-one",
    ),
    pytest.param({"screen_width": "wide", "screen_height": "800"}, "screen_width", "whole number", id="width-garbage"),
    pytest.param({"screen_width": "1280"}, "screen_height", "Set both the screen width and height", id="width-only"),
    pytest.param({"screen_height": "800"}, "screen_width", "Set both the screen width and height", id="height-only"),
    pytest.param(
        {"session_id": SESSION_ID, "proxy_country": "de"}, "proxy_country", "apply only to a new session",
        id="session-with-proxy",
    ),
    pytest.param(
        {"session_id": SESSION_ID, "proxy_country": "none"}, "proxy_country", "apply only to a new session",
        id="session-with-no-proxy",
    ),
    pytest.param(
        {"session_id": SESSION_ID, "profile_id": SESSION_ID}, "profile_id", "apply only to a new session",
        id="session-with-profile",
    ),
    pytest.param(
        {"session_id": SESSION_ID, "enable_recording": "on"}, "enable_recording", "apply only to a new session",
        id="session-with-recording",
    ),
    # Agent
    pytest.param({"vision": "maybe"}, "vision", "maybe is not one of the available choices", id="vision-unknown"),
    pytest.param({"vision": ""}, "vision", "required", id="vision-missing"),
    pytest.param(
        {"thinking_level": "extreme"}, "thinking_level", "extreme is not one of the available choices",
        id="thinking-level-unknown",
    ),
    pytest.param(
        {"system_prompt_extension": "x" * 10_001}, "system_prompt_extension",
        "at most 10000 characters (it has 10001)", id="system-prompt-max-plus-one",
    ),
    # Security
    pytest.param({"allowed_domains": "example.*"}, "allowed_domains", "wildcard top-level domain", id="domain-wild-tld"),
    pytest.param({"allowed_domains": "example.com/path"}, "allowed_domains", "has a path", id="domain-with-path"),
    pytest.param(
        {"allowed_domains": "https://example.com/login"}, "allowed_domains", "has a path", id="domain-url-with-path",
    ),
    pytest.param({"allowed_domains": "not a domain!"}, "allowed_domains", "not a valid domain pattern", id="domain-garbage"),
    pytest.param({"allowed_domains": "*"}, "allowed_domains", "would allow every domain", id="domain-star"),
    pytest.param({"allowed_domains": "example.com:99999"}, "allowed_domains", "ports go from 1 to 65535", id="domain-port"),
    pytest.param({"allowed_domains": "ftp://example.com"}, "allowed_domains", "not a valid domain pattern", id="domain-ftp"),
    pytest.param({"allowed_domains": "examplecom"}, "allowed_domains", "not a valid domain pattern", id="domain-no-dot"),
    pytest.param({"allowed_domains": "-bad-.com"}, "allowed_domains", "not a valid domain pattern", id="domain-hyphens"),
    pytest.param(
        {"allowed_domains": "example.com\nexample.*"}, "allowed_domains", "“example.*”", id="domain-one-bad-line",
    ),
    pytest.param({"op_vault_id": "v" * 256}, "op_vault_id", "at most 255 characters", id="vault-id-too-long"),
    # Judge
    pytest.param(
        {"judge_ground_truth": "Three titles"}, "judge_ground_truth", "turn the judge on", id="ground-truth-without-judge",
    ),
    pytest.param(
        {"judge": "on", "judge_ground_truth": "x" * 10_001}, "judge_ground_truth",
        "at most 10000 characters (it has 10001)", id="ground-truth-max-plus-one",
    ),
    pytest.param({"judge_llm": "o3"}, "judge_llm", "turn the judge on", id="judge-llm-without-judge"),
    pytest.param(
        {"judge": "on", "judge_llm": "gpt-99"}, "judge_llm", "gpt-99 is not one of the available choices",
        id="judge-llm-unknown",
    ),
    # Skills
    pytest.param({"skills_mode": "some"}, "skills_mode", "some is not one of the available choices", id="skills-mode-unknown"),
    pytest.param({"skills_mode": "selected"}, "skill_ids", "Enter at least one skill ID", id="skills-selected-empty"),
    pytest.param(
        {"skills_mode": "selected", "skill_ids": "scrape-amazon"}, "skill_ids", "“scrape-amazon” is not a skill ID",
        id="skills-not-uuid",
    ),
    pytest.param(
        {"skills_mode": "none", "skill_ids": SKILL_ID}, "skill_ids", "Choose “These skills”", id="skills-ids-without-mode",
    ),
    pytest.param(
        {"skills_mode": "all", "skill_ids": SKILL_ID}, "skill_ids", "Choose “These skills”", id="skills-ids-with-all",
    ),
    # Metadata rows
    pytest.param(
        {"metadata": {"campaign": "a", " campaign ": "b"}}, "metadata-1-key", "The key “campaign” is used twice",
        id="metadata-duplicate-key",
    ),
    pytest.param(
        {"metadata": {"dashboardRunId": "mine"}}, "metadata-0-key", "reserved for the dashboard's own run id",
        id="metadata-reserved-key",
    ),
    pytest.param({"metadata": {"": "orphan"}}, "metadata-0-key", "Enter a key for this value", id="metadata-value-without-key"),
    pytest.param({"metadata": {"k" * 101: "v"}}, "metadata-0-key", "at most 100 characters", id="metadata-key-too-long"),
    pytest.param({"metadata": {"k": "v" * 1001}}, "metadata-0-value", "at most 1000 characters", id="metadata-value-too-long"),
    # Secret rows
    pytest.param(
        {"secrets": {"example.com": ""}}, "secrets-0-credential", "Enter the credential for this domain",
        id="secret-domain-without-credential",
    ),
    pytest.param(
        {"secrets": {"": "hunter2"}}, "secrets-0-domain", "Enter the domain this credential is for",
        id="secret-credential-without-domain",
    ),
    pytest.param(
        {"secrets": {"example.*": "hunter2"}}, "secrets-0-domain", "wildcard top-level domain", id="secret-domain-wild-tld",
    ),
    pytest.param(
        {"secrets": {"example.com/login": "hunter2"}}, "secrets-0-domain", "has a path", id="secret-domain-path",
    ),
    pytest.param(
        {"secrets": {"not a domain": "hunter2"}}, "secrets-0-domain", "not a valid domain pattern",
        id="secret-domain-garbage",
    ),
    pytest.param(
        {"secrets": {"Example.com": "a", "example.com": "b"}}, "secrets-1-domain", "“example.com” has two credentials",
        id="secret-duplicate-domain",
    ),
    pytest.param(
        {"secrets": {"example.com": "x" * 10_001}}, "secrets-0-credential", "at most 10000 characters",
        id="secret-credential-too-long",
    ),
]


@pytest.mark.parametrize(("fields", "field", "message"), REJECTED)
def test_compose_form_rejects(fields, field, message):
    form = bound_form(**fields)

    errors = form_errors(form)
    assert not form.is_valid()
    assert list(errors) == [field]
    assert any(message in text for text in errors[field]), errors[field]


ACCEPTED = [
    pytest.param({"task": "x" * 50_000}, id="task-at-max"),
    pytest.param({"task": "a"}, id="task-one-char"),
    pytest.param({"start_url": "example.com/start"}, id="start-url-without-scheme"),
    pytest.param({"max_steps": "1"}, id="max-steps-min"),
    pytest.param({"max_steps": "10000"}, id="max-steps-max"),
    pytest.param({"structured_output": VALID_SCHEMA}, id="schema-valid"),
    pytest.param({"structured_output": "   "}, id="schema-blank"),
    pytest.param({"screen_width": "320", "screen_height": "320"}, id="screen-min"),
    pytest.param({"screen_width": "6144", "screen_height": "3456"}, id="screen-max"),
    pytest.param({"proxy_country": "uk"}, id="proxy-uk"),
    pytest.param({"proxy_country": "de"}, id="proxy-de"),
    pytest.param({"proxy_country": "none"}, id="proxy-none"),
    pytest.param({"proxy_country": ""}, id="proxy-default"),
    pytest.param({"session_id": SESSION_ID}, id="session-alone"),
    pytest.param({"vision": "false"}, id="vision-off"),
    pytest.param({"vision": "auto"}, id="vision-auto"),
    pytest.param({"thinking": "on", "thinking_level": "high"}, id="thinking-high"),
    pytest.param({"system_prompt_extension": "x" * 10_000}, id="system-prompt-at-max"),
    pytest.param({"allowed_domains": "example.com\n*.example.com\nhttp*://example.com\nhttps://shop.example.com"}, id="domains"),
    pytest.param({"allowed_domains": "chrome-extension://*"}, id="domain-extension"),
    pytest.param({"allowed_domains": "https://example.com/\nexample.com:8443"}, id="domain-origin-slash-port"),
    pytest.param({"op_vault_id": "v" * 255}, id="vault-id-at-max"),
    pytest.param({"judge": "on", "judge_ground_truth": "x" * 10_000, "judge_llm": "o3"}, id="judge-at-max"),
    pytest.param({"skills_mode": "all"}, id="skills-all"),
    pytest.param({"skills_mode": "selected", "skill_ids": f"{SKILL_ID}\n{SESSION_ID}"}, id="skills-selected"),
    pytest.param({"metadata": {f"key{i}": str(i) for i in range(USER_METADATA_PAIRS)}}, id="metadata-nine-pairs"),
    pytest.param({"secrets": {f"site{i}.example.com": f"pw{i}" for i in range(MAX_SECRETS)}}, id="secrets-max-rows"),
]


@pytest.mark.parametrize("fields", ACCEPTED)
def test_compose_form_accepts(fields):
    form = bound_form(**fields)

    assert form_errors(form) == {}
    assert form.is_valid()


def test_metadata_ten_pairs_rejected():
    # Only 9 rows fit: the API allows 10 metadata pairs and the dashboard keeps one for its run id.
    data = compose_data(metadata={f"key{i}": str(i) for i in range(10)})
    data["metadata-TOTAL_FORMS"] = "10"

    form = ComposeForm(data)

    assert not form.is_valid()
    assert list(form_errors(form)) == ["metadata"]
    assert "at most 9 metadata pairs" in form.metadata.non_form_errors()[0]
    assert "metadata" in form.sections_with_errors()


def test_secrets_over_max_rows_rejected():
    data = compose_data(secrets={f"site{i}.example.com": "pw" for i in range(MAX_SECRETS + 1)})
    data["secrets-TOTAL_FORMS"] = str(MAX_SECRETS + 1)

    form = ComposeForm(data)

    assert not form.is_valid()
    assert list(form_errors(form)) == ["secrets"]
    assert "security" in form.sections_with_errors()


def test_allowed_domains_cleaned_to_list():
    form = bound_form(allowed_domains="Example.com\n\n  *.example.com  \nexample.com\nhttp*://example.com")

    assert form.is_valid()
    assert form.task.cleaned_data["allowed_domains"] == ["example.com", "*.example.com", "http*://example.com"]


def test_allowed_domains_reports_every_bad_line():
    form = bound_form(allowed_domains="example.*\nok.example.com\nexample.com/a\n???")

    messages = form.task.errors["allowed_domains"]
    assert len(messages) == 3
    assert "“example.*”" in messages[0]
    assert "“example.com/a”" in messages[1]
    assert "“???”" in messages[2]


def test_structured_output_sent_compact():
    form = bound_form(structured_output=json.dumps(json.loads(VALID_SCHEMA), indent=4))

    assert form.is_valid()
    assert form.task.cleaned_data["structured_output"] == json.dumps(json.loads(VALID_SCHEMA), separators=(",", ":"))


def test_skill_ids_split_and_normalised():
    form = bound_form(skills_mode="selected", skill_ids=f"{SKILL_ID.upper()}, {SESSION_ID}\n")

    assert form.is_valid()
    assert form.task.cleaned_data["skill_ids"] == [SKILL_ID, SESSION_ID]


def test_secret_domain_lowercased():
    form = bound_form(secrets={"Example.COM": "hunter2"})

    assert form.is_valid()
    assert form.secrets.pairs() == {"example.com": "hunter2"}


def test_metadata_pairs_keep_typed_order():
    form = bound_form(metadata={"b": "2", "a": "1"})

    assert form.is_valid()
    assert list(form.metadata.pairs().items()) == [("b", "2"), ("a", "1")]


def test_error_sections_marked():
    form = bound_form(max_steps="0", proxy_country="gb", judge_ground_truth="x", metadata={"dashboardRunId": "1"})

    assert form.sections_with_errors() == {"basics", "session", "judge", "metadata"}
    assert {"session", "judge", "metadata"} <= form.open_sections()
