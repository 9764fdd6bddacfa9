"""The SDK's generated request models with the server's nullability, as oracles for the sandbox's validation.

The SDK's generator (datamodel-codegen) makes every optional field nullable, but the published OpenAPI
document, which FastAPI generated from the server's own models, shows that some are not: `flashMode` is
`{"type": "boolean", "default": false}`, so `"flashMode": null` gets a 422. These models take the field
types and limits from SDK 3.12.1 and the nullability from the document.
"""

import functools
import json
import operator
import typing
from pathlib import Path

import pydantic
from browser_use_sdk.generated.v2 import models as sdk_models

DOCUMENT = json.loads((Path(__file__).parent / "data" / "browser-use-v2.openapi.json").read_text())


def _nullable(schema: dict) -> bool:
    return schema.get("type") == "null" or any(option.get("type") == "null" for option in schema.get("anyOf", []))


def _without_none(annotation):
    options = typing.get_args(annotation)
    if type(None) not in options:
        return annotation
    return functools.reduce(operator.or_, [option for option in options if option is not type(None)])


def server_model(model: type[pydantic.BaseModel], **overrides) -> type[pydantic.BaseModel]:
    """Return `model` with the fields that the document declares non-nullable made non-nullable.

    `overrides` replaces the annotation of nested model fields by their server versions.
    """
    properties = DOCUMENT["components"]["schemas"][model.__name__]["properties"]
    changed = {}
    for name, info in model.model_fields.items():
        annotation = overrides.get(name, info.annotation)
        declared = properties.get(info.alias or name)
        if declared is not None and not _nullable(declared):
            annotation = _without_none(annotation)
        if annotation is not info.annotation:
            changed[name] = (annotation, info)
    return pydantic.create_model(f"Server{model.__name__}", __base__=model, **changed)


ServerSessionSettings = server_model(sdk_models.SessionSettings)
ServerCreateTaskRequest = server_model(sdk_models.CreateTaskRequest, session_settings=ServerSessionSettings | None)
ServerCustomProxy = server_model(sdk_models.CustomProxy)
ServerCreateSessionRequest = server_model(sdk_models.CreateSessionRequest, custom_proxy=ServerCustomProxy | None)
ServerUpdateTaskRequest = server_model(sdk_models.UpdateTaskRequest)
ServerUpdateSessionRequest = server_model(sdk_models.UpdateSessionRequest)
