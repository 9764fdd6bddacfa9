"""The official SDK (browser-use-sdk 3.12.1, v2 client) drives the sandbox over HTTP through every call
the dashboard makes. The SDK validates each response with its generated pydantic models. On top of that,
every raw JSON body must carry exactly the fields of its model, so a missing or invented field fails too.
"""

import typing
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pydantic
import pytest
from browser_use_sdk import BrowserUse, BrowserUseError
from browser_use_sdk.generated.v2 import models as sdk_models

from tests.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SANDBOX_KEY = "bu_sandbox"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
SCHEMA = '{"type": "object", "properties": {"title": {"type": "string"}, "rank": {"type": "integer"}}}'


class BodyRecorder:
    """httpx response hook that keeps every response the SDK receives, to check the raw JSON as well."""

    def __init__(self):
        self.responses = []

    def __call__(self, response):
        response.read()
        self.responses.append(response)

    @property
    def last(self):
        return self.responses[-1].json()


@pytest.fixture
def recorder():
    return BodyRecorder()


@pytest.fixture
def sdk(live_server, recorder):
    # No retries, so that a 429 or 5xx reaches the test instead of being retried with a delay.
    client = BrowserUse(api_key=SANDBOX_KEY, base_url=f"{live_server.url}/sandbox/api/v2", max_retries=0)
    # The SDK keeps its httpx client private; the hook only records, it changes no request.
    client._http._client.event_hooks["response"].append(recorder)
    yield client
    client._http.close()


def _nested_model(annotation) -> type[pydantic.BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return None if issubclass(annotation, pydantic.RootModel) else annotation
    for argument in typing.get_args(annotation):
        found = _nested_model(argument)
        if found:
            return found
    return None


def assert_exact_fields(model: type[pydantic.BaseModel], data, where: str = "body") -> None:
    """Check that `data` validates as `model` and has exactly its fields, nested models included."""
    model.model_validate(data)
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    assert isinstance(data, dict), f"{where} is not an object"
    assert sorted(set(fields) - set(data)) == [], f"{where} lacks fields of {model.__name__}"
    assert sorted(set(data) - set(fields)) == [], f"{where} has fields that {model.__name__} lacks"
    for alias, field in fields.items():
        nested, value = _nested_model(field.annotation), data[alias]
        if nested is None or value is None:
            continue
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            assert_exact_fields(nested, item, f"{where}.{alias}[{index}]")


def wait_for_status(sdk, task_id, statuses, timeout=10.0):
    return wait_until(lambda: sdk.tasks.status(task_id).status.value in statuses and sdk.tasks.status(task_id), timeout)


def test_account_matches_model(sdk, recorder):
    account = sdk.billing.account()

    assert_exact_fields(sdk_models.AccountView, recorder.last)
    assert account.concurrent_session_limit == 25
    assert account.plan_info.plan_name == "Sandbox"


def test_account_follows_limit_setting(sdk, settings):
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 3

    account = sdk.billing.account()

    assert account.concurrent_session_limit == 3
    assert account.rate_limit == 3


def test_task_lifecycle_matches_models(sdk, recorder):
    created = sdk.tasks.create(
        "Find the top post on the example forum",
        llm="gemini-flash-latest",
        start_url="https://forum.example.com",
        max_steps=20,
        structured_output=SCHEMA,
        metadata={"dashboardRunId": "r-1", "team": "acme"},
        secrets={"forum.example.com": "user:pa55"},
        allowed_domains=["forum.example.com"],
        thinking_level="low",
        judge=True,
        judge_ground_truth="The top post",
        session_settings=sdk_models.SessionSettings(proxyCountryCode="de"),
    )
    assert_exact_fields(sdk_models.TaskCreatedResponse, recorder.last)

    status = sdk.tasks.status(str(created.id))
    assert_exact_fields(sdk_models.TaskStatusView, recorder.last)
    assert status.status.value in {"created", "started"}

    finished = wait_for_status(sdk, str(created.id), {"finished"})
    assert finished.is_success is True

    task = sdk.tasks.get(str(created.id))
    body = recorder.last
    assert_exact_fields(sdk_models.TaskView, body)
    assert task.metadata == {"dashboardRunId": "r-1", "team": "acme"}
    assert task.steps
    assert task.output_files
    assert task.judge_verdict is True
    assert task.judgement
    assert task.suggestions == []
    assert float(task.cost.root) > 0
    assert "pa55" not in str(body)

    logs = sdk.tasks.logs(str(created.id))
    assert_exact_fields(sdk_models.TaskLogFileResponse, recorder.last)
    assert "/sandbox/files/download/" in logs.download_url

    output = sdk.files.task_output(str(created.id), str(task.output_files[0].id))
    assert_exact_fields(sdk_models.TaskOutputFileResponse, recorder.last)
    assert output.file_name == "result.json"


def test_task_list_pages_and_filters(sdk, recorder, settings):
    start = datetime.now(UTC) - timedelta(seconds=1)
    first = sdk.tasks.create("First listed task")
    second = sdk.tasks.create("Second listed task")
    wait_for_status(sdk, str(first.id), {"finished"})
    wait_for_status(sdk, str(second.id), {"finished"})

    page = sdk.tasks.list(page_size=1, page_number=2, after=start.isoformat())
    assert_exact_fields(sdk_models.TaskListResponse, recorder.last)
    assert page.total_items == 2
    assert page.page_size == 1
    assert page.page_number == 2
    assert [item.id for item in page.items] == [first.id]

    by_session = sdk.tasks.list(session_id=str(second.session_id))
    assert [item.id for item in by_session.items] == [second.id]

    assert sdk.tasks.list(filter_by="finished").total_items == 2
    assert sdk.tasks.list(filter_by="stopped").total_items == 0
    assert sdk.tasks.list(before=start.isoformat()).total_items == 0
    assert sdk.tasks.list(page_size=100).page_size == 100


def test_stop_leaves_task_stopped(sdk, recorder, settings):
    settings.SANDBOX_STEP_SECONDS = 5
    session = sdk.sessions.create()
    created = sdk.tasks.create("A slow task", session_id=str(session.id))

    stopped = sdk.tasks.stop(str(created.id))

    assert_exact_fields(sdk_models.TaskView, recorder.last)
    assert stopped.status.value == "stopped"
    assert sdk.sessions.get(str(session.id)).status.value == "active"


def test_stop_task_and_session(sdk, settings):
    settings.SANDBOX_STEP_SECONDS = 5
    session = sdk.sessions.create()
    created = sdk.tasks.create("Another slow task", session_id=str(session.id))

    stopped = sdk.tasks.stop_task_and_session(str(created.id))

    assert stopped.status.value == "stopped"
    assert sdk.sessions.get(str(session.id)).status.value == "stopped"


def test_session_lifecycle_matches_models(sdk, recorder, settings):
    settings.SANDBOX_STEP_SECONDS = 5
    session = sdk.sessions.create(
        proxy_country_code="uk",
        profile_id="5b0b1c43-6d0e-4b8a-9a61-3f1e2d7c8a01",
        custom_proxy=sdk_models.CustomProxy(host="proxy.example.com", port=8080, password="hunter22"),
    )
    assert_exact_fields(sdk_models.SessionItemView, recorder.last)
    assert session.live_url

    listing = sdk.sessions.list(filter_by="active")
    assert_exact_fields(sdk_models.SessionListResponse, recorder.last)
    assert [item.id for item in listing.items] == [session.id]

    created = sdk.tasks.create("Task in a kept session", session_id=str(session.id))
    with pytest.raises(BrowserUseError) as busy:
        sdk.tasks.create("Second task while busy", session_id=str(session.id))
    assert busy.value.status_code == 400
    assert busy.value.message.startswith("Agent session already has a running task")

    view = sdk.sessions.get(str(session.id))
    assert_exact_fields(sdk_models.SessionView, recorder.last)
    assert [task.id for task in view.tasks] == [created.id]
    assert "hunter22" not in str(recorder.last)

    stopped = sdk.sessions.stop(str(session.id))
    assert_exact_fields(sdk_models.SessionView, recorder.last)
    assert stopped.status.value == "stopped"
    assert stopped.live_url is None
    assert sdk.tasks.status(str(created.id)).status.value == "stopped"

    with pytest.raises(BrowserUseError) as closed:
        sdk.tasks.create("Task in a stopped session", session_id=str(session.id))
    assert closed.value.status_code == 400
    assert closed.value.message == "Browser session is stopped. Please start a new session and try again."

    sdk.sessions.delete(str(session.id))
    with pytest.raises(BrowserUseError) as gone:
        sdk.sessions.get(str(session.id))
    assert gone.value.status_code == 404
    assert gone.value.message == "Session not found"
    assert sdk.tasks.list().total_items == 0


def test_public_share(sdk, recorder):
    session = sdk.sessions.create()
    with pytest.raises(BrowserUseError) as missing:
        sdk.sessions.get_share(str(session.id))
    assert missing.value.status_code == 404
    assert missing.value.message == "Public share not found"

    share = sdk.sessions.create_share(str(session.id))
    assert_exact_fields(sdk_models.ShareView, recorder.last)
    assert recorder.responses[-1].status_code == 201
    assert sdk.sessions.create_share(str(session.id)).share_token == share.share_token
    assert sdk.sessions.get(str(session.id)).public_share_url == share.share_url

    assert httpx.get(share.share_url).status_code == 200
    viewed = sdk.sessions.get_share(str(session.id))
    assert_exact_fields(sdk_models.ShareView, recorder.last)
    assert viewed.view_count == 1
    assert viewed.last_viewed_at is not None

    sdk.sessions.delete_share(str(session.id))
    assert sdk.sessions.get(str(session.id)).public_share_url is None


def test_profiles_match_models(sdk, recorder):
    listing = sdk.profiles.list(query="shop")
    assert_exact_fields(sdk_models.ProfileListResponse, recorder.last)
    assert [profile.name for profile in listing.items] == ["Shop account"]

    profile = sdk.profiles.get(str(listing.items[0].id))
    assert_exact_fields(sdk_models.ProfileView, recorder.last)
    assert profile.cookie_domains == ["shop.example.com", ".example.com"]

    with pytest.raises(BrowserUseError) as missing:
        sdk.profiles.get(UNKNOWN_ID)
    assert missing.value.status_code == 404
    assert missing.value.message == "Profile not found"


def test_skills_match_models(sdk, recorder):
    listing = sdk.skills.list()
    assert_exact_fields(sdk_models.SkillListResponse, recorder.last)
    assert listing.total_items == 4
    assert {skill.status.value for skill in listing.items} >= {"finished", "generating"}

    disabled = sdk.skills.list(is_enabled=False)
    assert [skill.title for skill in disabled.items] == ["Download monthly invoice"]
    assert [skill.title for skill in sdk.skills.list(query="price").items] == ["Track product price"]
    assert sdk.skills.list(category="news").total_items == 1

    skill = sdk.skills.get(str(disabled.items[0].id))
    assert_exact_fields(sdk_models.SkillResponse, recorder.last)
    assert [parameter.type.value for parameter in skill.parameters] == ["string", "cookie"]

    with pytest.raises(BrowserUseError) as missing:
        sdk.skills.get(UNKNOWN_ID)
    assert missing.value.status_code == 404
    assert missing.value.message == "Skill not found"


def test_wrong_key_gets_401(live_server):
    client = BrowserUse(api_key="bu_wrong", base_url=f"{live_server.url}/sandbox/api/v2", max_retries=0)

    with pytest.raises(BrowserUseError) as rejected:
        client.billing.account()

    assert rejected.value.status_code == 401
    assert rejected.value.message == "Invalid API key"


def test_ids_validated_like_fastapi(sdk):
    with pytest.raises(BrowserUseError) as malformed:
        sdk.tasks.get("not-a-uuid")
    assert malformed.value.status_code == 422
    [item] = malformed.value.detail["detail"]
    assert item["loc"] == ["path", "task_id"]
    assert item["type"] == "uuid_parsing"
    assert set(item) >= {"type", "loc", "msg", "input"}

    with pytest.raises(BrowserUseError) as unknown:
        sdk.tasks.get(UNKNOWN_ID)
    assert unknown.value.status_code == 404
    assert unknown.value.message == "Task not found"

    with pytest.raises(BrowserUseError) as no_file:
        sdk.files.task_output(UNKNOWN_ID, str(uuid.uuid4()))
    assert no_file.value.message == "Task not found"


def test_unknown_route_is_404(sdk):
    with pytest.raises(BrowserUseError) as missing:
        sdk._http.request("GET", "/no-such-route")

    assert missing.value.status_code == 404
    assert missing.value.detail == {"detail": "Not Found"}


def test_capacity_limit_gives_429(sdk, settings):
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 1
    settings.SANDBOX_STEP_SECONDS = 5
    sdk.sessions.create()

    with pytest.raises(BrowserUseError) as full:
        sdk.tasks.create("No room for this one")

    assert full.value.status_code == 429
    assert full.value.message.startswith("Too many concurrent active sessions")
