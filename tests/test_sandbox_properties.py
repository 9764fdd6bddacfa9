"""Property test: the sandbox accepts a POST /tasks body exactly when the SDK's generated CreateTaskRequest
model (browser-use-sdk 3.12.1) accepts it, and rejects the others with FastAPI's 422 at the same fields.

The oracle is the SDK model with the nullability of the published document (see tests/server_models.py).
"""

import json
import os

import pydantic
import pytest
from browser_use_sdk.generated.v2 import models as sdk_models
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tasks_ui.sandbox.api import dispatch
from tasks_ui.sandbox.catalog import PROFILES
from tasks_ui.sandbox.models import SandboxSession
from tests.server_models import ServerCreateTaskRequest

pytestmark = pytest.mark.django_db

LLMS = [model.value for model in sdk_models.SupportedLLMs]
COUNTRIES = [country.value for country in sdk_models.ProxyCountryCode]
LEVELS = [level.value for level in sdk_models.ThinkingLevel]
KNOWN_FIELDS = set(sdk_models.CreateTaskRequest.model_json_schema(by_alias=True)["properties"])
# Semantic 404s come after validation, so they count as "accepted by validation".
SEMANTIC_404 = {"Session not found", "Profile not found"}

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
wrong_types = st.one_of(
    st.none(), st.integers(-3, 3), st.floats(-2, 2), st.lists(st.integers(), max_size=2), st.just({"a": 1})
)
long_text = st.sampled_from([0, 1, 9_999, 10_000, 10_001, 49_999, 50_000, 50_001]).map(lambda n: "x" * n)
bad_enum_values = st.sampled_from(["", "gpt-4o", "claude-sonnet-4-6", "US", "gb", "extreme", "Low"])
screen_sizes = st.sampled_from([319, 320, 3456, 3457, 6144, 6145, "800", 800.0, 800.5, None])
profile_ids = st.sampled_from([profile["id"] for profile in PROFILES])

# Values the schema allows for each optional field.
VALID = {
    "llm": st.sampled_from(LLMS),
    "startUrl": st.one_of(st.none(), st.text(max_size=20)),
    "maxSteps": st.integers(1, 10_000),
    "structuredOutput": st.one_of(st.none(), st.text(max_size=20)),
    # An unknown session passes validation and then gets a 404.
    "sessionId": st.one_of(st.none(), st.none(), st.none(), st.uuids().map(str)),
    "metadata": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
    "secrets": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    "allowedDomains": st.lists(st.text(max_size=10), max_size=3),
    "opVaultId": st.text(max_size=10),
    "sessionSettings": st.fixed_dictionaries(
        {},
        optional={
            "profileId": profile_ids,
            "proxyCountryCode": st.one_of(st.none(), st.sampled_from(COUNTRIES)),
            "browserScreenWidth": st.integers(320, 6144),
            "browserScreenHeight": st.integers(320, 3456),
            "enableRecording": st.booleans(),
        },
    ),
    "highlightElements": st.booleans(),
    "flashMode": st.booleans(),
    "thinking": st.booleans(),
    "thinkingLevel": st.sampled_from(LEVELS),
    "vision": st.one_of(st.booleans(), st.just("auto")),
    "systemPromptExtension": st.text(max_size=30),
    "judge": st.booleans(),
    "judgeGroundTruth": st.one_of(st.none(), st.text(max_size=30)),
    "judgeLlm": st.sampled_from(LLMS),
    "skillIds": st.one_of(st.just(["*"]), st.lists(st.text(max_size=10), max_size=3)),
}
# Unusual values for every field: wrong types, out-of-range numbers, unknown enum values, long strings.
# Some of them are valid after pydantic's lax coercion (such as "12" for maxSteps); the SDK model decides.
UNUSUAL = {
    "task": st.one_of(st.just(MISSING := object()), long_text, wrong_types),
    "llm": st.one_of(bad_enum_values, wrong_types),
    "startUrl": wrong_types,
    "maxSteps": st.one_of(st.sampled_from([0, -1, 10_001, 5.0, 5.5, "12", "x", True]), wrong_types),
    "structuredOutput": wrong_types,
    "sessionId": st.one_of(st.uuids().map(str), st.text(max_size=8), profile_ids, wrong_types),
    "metadata": st.one_of(st.dictionaries(st.text(max_size=4), json_scalars, min_size=1, max_size=2), st.text(max_size=3)),
    "secrets": st.one_of(st.dictionaries(st.text(max_size=4), json_scalars, min_size=1, max_size=2), wrong_types),
    "allowedDomains": st.one_of(st.lists(json_scalars, min_size=1, max_size=2), st.text(max_size=5)),
    "opVaultId": wrong_types,
    "sessionSettings": st.one_of(
        st.fixed_dictionaries({}, optional={
            "profileId": st.one_of(st.uuids().map(str), st.text(max_size=6), st.just("urn:uuid:" + PROFILES[0]["id"])),
            "proxyCountryCode": bad_enum_values,
            "browserScreenWidth": screen_sizes,
            "browserScreenHeight": screen_sizes,
            "enableRecording": st.sampled_from(["yes", 2, "maybe", None]),
        }),
        st.text(max_size=4),
        wrong_types,
    ),
    "highlightElements": st.sampled_from(["true", "no", "maybe", 0, 1, 2, 0.5, None, []]),
    "thinking": st.sampled_from(["off", 2, None]),
    "thinkingLevel": st.one_of(bad_enum_values, wrong_types),
    "vision": st.one_of(st.text(max_size=6), wrong_types),
    "systemPromptExtension": st.one_of(long_text, wrong_types),
    "judgeGroundTruth": st.one_of(long_text, wrong_types),
    "judgeLlm": st.one_of(bad_enum_values, wrong_types),
    "skillIds": st.one_of(st.lists(json_scalars, min_size=1, max_size=2), st.text(max_size=5)),
}
extra_keys = st.dictionaries(st.text(max_size=10).filter(lambda key: key not in KNOWN_FIELDS), json_values, max_size=2)


@st.composite
def request_bodies(draw):
    """A valid body with none, one or a few fields changed to unusual values, and maybe unknown keys."""
    body = draw(st.fixed_dictionaries({"task": st.text(min_size=1, max_size=40)}, optional=VALID))
    for name in draw(st.lists(st.sampled_from(sorted(UNUSUAL)), max_size=3, unique=True)):
        value = draw(UNUSUAL[name])
        if value is MISSING:
            del body[name]
        else:
            body[name] = value
    return {**draw(extra_keys), **body}


bodies = st.one_of(request_bodies(), request_bodies(), request_bodies(), json_values)


def sdk_error_locations(body) -> list | None:
    """Return the error locations the SDK model reports for `body`, or None when it accepts the body."""
    try:
        ServerCreateTaskRequest.model_validate(body)
    except pydantic.ValidationError as error:
        return sorted(json.dumps(item["loc"]) for item in error.errors())
    return None


# Local runs explore new examples each time; CI runs a fixed set, so a submission cannot fail by chance.
@settings(
    max_examples=200,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
def test_create_task_validation_matches_sdk(body):
    # Every accepted body starts a session; clearing them keeps the capacity limit out of the way.
    SandboxSession.objects.all().delete()
    expected = sdk_error_locations(body)

    reply = dispatch(
        method="POST", path="/tasks", query={}, api_key="bu_sandbox", body=json.dumps(body).encode(), origin=""
    )

    event(f"status {reply.status_code}")
    if expected is None:
        assert reply.status_code == 202 or (reply.status_code == 404 and reply.body["detail"] in SEMANTIC_404), reply.body
        return
    assert reply.status_code == 422, reply.body
    items = reply.body["detail"]
    assert all({"type", "loc", "msg", "input"} <= set(item) for item in items)
    assert all(item["loc"][0] == "body" for item in items)
    assert sorted(json.dumps(item["loc"][1:]) for item in items) == expected
