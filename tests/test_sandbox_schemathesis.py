"""Schemathesis runs the published v2 OpenAPI document against the sandbox over HTTP, for every operation
the sandbox implements. It checks for server errors, undocumented status codes and content types, and
response bodies that break their schemas. It also checks that valid input is accepted, invalid input is
rejected and the API key is enforced.

The document is a copy of the published one (August 2026), kept in tests/data so the test runs anywhere.
Where it is wrong or older than SDK 3.12.1, which the sandbox follows, `load_document` corrects it in
memory, with the reason next to each correction.
"""

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pydantic
import pytest
import schemathesis
from browser_use_sdk.generated.v2 import models as sdk_models
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.openapi.checks import AllowHeaderMismatch

from tasks_ui.sandbox.api import ROUTE_NAMES
from tasks_ui.sandbox.catalog import PROFILES, SKILLS
from tasks_ui.sandbox.models import SandboxSession, SandboxTask
from tests import server_models

pytestmark = pytest.mark.django_db(transaction=True)

DOCUMENT = Path(__file__).parent / "data" / "browser-use-v2.openapi.json"
SEED_SESSION_ID = "6a1d8f7e-0b2c-4d3e-9f4a-5b6c7d8e9f01"
SEED_TASK_SESSION_ID = "6a1d8f7e-0b2c-4d3e-9f4a-5b6c7d8e9f02"
SEED_TASK_ID = "6a1d8f7e-0b2c-4d3e-9f4a-5b6c7d8e9f03"
# The SDK's request models, with the server's nullability, by operation.
BODY_MODELS = {
    "POST /tasks": server_models.ServerCreateTaskRequest,
    "PATCH /tasks/{task_id}": server_models.ServerUpdateTaskRequest,
    "POST /sessions": server_models.ServerCreateSessionRequest,
    "PATCH /sessions/{session_id}": server_models.ServerUpdateSessionRequest,
}
DATE_TIME_QUERY = {"after", "before", "fromDate", "toDate"}
DATETIME = pydantic.TypeAdapter(datetime)
# Path ids that name seeded records, so that some generated requests get a 200 response and its schema.
KNOWN_PATH_IDS = {
    "task_id": SEED_TASK_ID,
    "session_id": SEED_SESSION_ID,
    "file_id": str(uuid.uuid5(uuid.UUID(SEED_TASK_ID), "result.json")),
    "profile_id": PROFILES[0]["id"],
    "skill_id": SKILLS[0]["id"],
}


def load_document() -> dict:
    document = json.loads(DOCUMENT.read_text())
    schemas = document["components"]["schemas"]

    # The document's enums are older than SDK 3.12.1: its LLM list has 20 models, one of which the SDK
    # dropped (claude-sonnet-4-6), and its country list lacks "ci". The sandbox follows the SDK.
    schemas["SupportedLLMs"]["enum"] = [model.value for model in sdk_models.SupportedLLMs]
    schemas["ProxyCountryCode"]["enum"] = [country.value for country in sdk_models.ProxyCountryCode]

    # Every operation requires the API key header, but none documents the 401 a missing or wrong key gets.
    unauthorized = {
        "description": "Missing or invalid API key",
        "content": {"application/json": {"schema": {
            "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}}},
    }
    # FastAPI rejects a body it cannot decode (not UTF-8) with 400 "There was an error parsing the body",
    # which no operation documents.
    bad_body = {
        "description": "The body could not be decoded",
        "content": {"application/json": {"schema": {
            "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}}},
    }
    # POST and PATCH operations declare their 422 body as a single ValidationError object, but FastAPI
    # (and the SDK's HTTPValidationError model) send {"detail": [ValidationError, ...]} on every route.
    for operations in document["paths"].values():
        for operation in operations.values():
            if operation.get("security"):
                operation["responses"].setdefault("401", unauthorized)
            if "requestBody" in operation:
                operation["responses"].setdefault("400", bad_body)
            response = operation.get("responses", {}).get("422", {})
            content = response.get("content", {}).get("application/json", {})
            if content.get("schema") == {"$ref": "#/components/schemas/ValidationError"}:
                content["schema"] = {"$ref": "#/components/schemas/HTTPValidationError"}
    return document


config = schemathesis.Config.from_dict(
    {
        "headers": {"X-Browser-Use-API-Key": "bu_sandbox"},
        # Deterministic generation: the same examples every run, so CI cannot pass or fail by chance.
        "generation": {"max-examples": 25, "database": "none", "allow-extra-parameters": False, "deterministic": True},
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "positive_data_acceptance": {"enabled": True},
            "negative_data_rejection": {"enabled": True},
            "ignored_auth": {"enabled": True},
            "unsupported_method": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_dict(load_document(), config=config).include(name=ROUTE_NAMES)


# Free-text query parameters and their maximum lengths, per operation.
TEXT_QUERY_LIMITS = {"GET /profiles": {"query": 200}, "GET /skills": {"query": 100}}


@schema.hook
def flatmap_case(context, case):
    # Generated UUIDs almost never name a record; half of the valid cases use the seeded ones instead.
    if not case.path_parameters or case.meta is None or not case.meta.generation.mode.is_positive:
        return st.just(case)
    known = {name: KNOWN_PATH_IDS.get(name, value) for name, value in case.path_parameters.items()}
    seeded = case.operation.Case(
        path_parameters=known,
        query=case.query,
        headers=case.headers,
        cookies=case.cookies,
        body=case.body,
        media_type=case.media_type,
    )
    return st.sampled_from([case, seeded])


def _fastapi_reads_datetime(value) -> bool:
    try:
        DATETIME.validate_python(value)
    except pydantic.ValidationError:
        return False
    return True


def _validates(model, body) -> bool:
    try:
        model.model_validate(body)
    except pydantic.ValidationError:
        return False
    return True


def _negated_parameters(case) -> set[str]:
    data = case.meta.phase.data
    if getattr(data, "parameter", None):
        return {data.parameter}
    return {mutation.parameter for mutation in getattr(data, "mutations", ()) if mutation.parameter}


@schema.hook
def filter_failure(context, failure, case, response):
    """Keep every failure except those where the sandbox does what FastAPI does and the document differs."""
    if isinstance(failure, AcceptedNegativeData):
        negated = _negated_parameters(case)
        query = case.query or {}
        # pydantic, and so FastAPI, also reads Unix times and bare dates as date-time query values, which
        # the document's `format: date-time` excludes.
        if negated and negated <= DATE_TIME_QUERY and all(_fastapi_reads_datetime(query.get(name)) for name in negated):
            return False
        # FastAPI reads the last value of a repeated query parameter, so an array where the document
        # expects one value is only rejected when that last value is invalid.
        if negated and all(isinstance(query.get(name), list) for name in negated):
            return False
        # A query string carries text only: a generated number or boolean for a text parameter arrives as
        # text such as "+0.0", which is a valid value of that parameter.
        limits = TEXT_QUERY_LIMITS.get(case.operation.label, {})
        if negated and all(
            name in limits and isinstance(query.get(name), (int, float, bool)) and len(str(query[name])) <= limits[name]
            for name in negated
        ):
            return False
        # FastAPI treats a JSON null body like a missing optional body and applies the defaults.
        if case.operation.label == "POST /sessions" and case.body is None:
            return False
        # FastAPI validates in pydantic's lax mode, which reads 0 and "true" as booleans and "5" as an
        # integer. The SDK's model of the body (with the document's nullability) accepts this one too.
        body_model = BODY_MODELS.get(case.operation.label)
        if body_model and case.meta.is_negative_at(ParameterLocation.BODY) and _validates(body_model, case.body):
            return False
    if isinstance(failure, AllowHeaderMismatch) and not failure.undocumented_methods:
        # The sandbox leaves out the profile and skill writes that the dashboard never calls, so `Allow`
        # lists fewer methods than the document on those paths.
        missing = {f"{method} {case.operation.path}" for method in failure.missing_methods}
        if not missing & set(ROUTE_NAMES):
            return False
    return True


@pytest.fixture
def seeded(settings):
    """A finished task with an output file in a closed session, and an open session without tasks."""
    settings.SANDBOX_CONCURRENT_SESSION_LIMIT = 10_000
    long_ago = timezone.now() - timedelta(hours=1)
    SandboxSession.objects.create(id=SEED_SESSION_ID, started_at=long_ago, settings={"proxyCountryCode": "us"})
    task_session = SandboxSession.objects.create(
        id=SEED_TASK_SESSION_ID, one_off=True, keep_alive=False, started_at=long_ago, settings={}
    )
    SandboxTask.objects.create(
        id=SEED_TASK_ID,
        session=task_session,
        request={"task": "Seeded task for schema checks", "judge": True},
        created_at=long_ago,
        planned_steps=3,
    )


@schema.parametrize()
# The seeded records are meant to live through all examples of one operation.
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_sandbox_conforms_to_document(case, live_server, seeded):
    case.call_and_validate(base_url=f"{live_server.url}/sandbox/api/v2")
