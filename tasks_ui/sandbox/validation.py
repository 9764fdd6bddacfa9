"""Request validation with FastAPI's error shapes: path ids, query strings and JSON bodies.

FastAPI collects the errors of every path, query and body parameter into one 422 response,
`{"detail": [{"type", "loc", "msg", "input", "ctx"?}, ...]}`, before the endpoint runs. These helpers
do the same, so a request with a malformed id and an invalid body gets both errors.
"""

import json
from datetime import UTC, datetime
from uuid import UUID

import pydantic

UUID_ADAPTER = pydantic.TypeAdapter(UUID)


class HttpError(Exception):
    """An error response: `detail` becomes the body `{"detail": detail}`."""

    def __init__(self, status_code: int, detail, headers: dict | None = None):
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}


class ValidationFailed(Exception):
    """One or more request parameters are invalid; `items` are FastAPI error items."""

    def __init__(self, items: list[dict]):
        super().__init__(items)
        self.items = items


def error_items(error: pydantic.ValidationError, *prefix) -> list[dict]:
    """Return the items of `error` with `prefix` (such as "body") put in front of each `loc`."""
    items = json.loads(error.json(include_url=False))
    return [{**item, "loc": [*prefix, *item["loc"]]} for item in items]


def parse_path_id(value: str, name: str) -> UUID:
    try:
        return UUID_ADAPTER.validate_python(value)
    except pydantic.ValidationError as error:
        raise ValidationFailed(error_items(error, "path", name))


def parse_query(model: type[pydantic.BaseModel], query: dict) -> pydantic.BaseModel:
    try:
        return model.model_validate(query)
    except pydantic.ValidationError as error:
        raise ValidationFailed(error_items(error, "query"))


def decode_json(body: bytes):
    """Decode a request body, or raise HttpError 422 the way FastAPI reports malformed JSON."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        # FastAPI rejects any body error other than a JSON syntax error with this 400.
        raise HttpError(400, "There was an error parsing the body")
    except json.JSONDecodeError as error:
        item = {"type": "json_invalid", "loc": ["body", error.pos], "msg": "JSON decode error", "input": {},
                "ctx": {"error": error.msg}}
        raise HttpError(422, [item])


def parse_body(model: type[pydantic.BaseModel], data, *, required: bool) -> pydantic.BaseModel:
    """Validate decoded JSON `data` (None when the body was empty or `null`).

    A missing required body is FastAPI's `missing` error at `["body"]`; a missing optional body takes the
    model's defaults.
    """
    if data is None:
        if required:
            raise ValidationFailed([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}])
        return model()
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise ValidationFailed(error_items(error, "body"))


def as_utc(value: datetime) -> datetime:
    """Return `value` in UTC: PostgreSQL rejects offsets beyond ±15:59, which pydantic accepts up to ±23:59."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        # The offset moved the time past year 1 or 9999; the nearest representable instant compares the same.
        return datetime.min.replace(tzinfo=UTC) if aware.year < 5000 else datetime.max.replace(tzinfo=UTC)
