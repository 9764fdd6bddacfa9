"""Read a create-task body pasted as JSON (from the API docs, the SDK or another tool) into the compose form.

The compose form checks the values. This module catches what the form cannot represent, such as a metadata value
that is a number or a schema given as an object, and names each problem in the API's own field names.
"""

import json

from .api_enums import PROXY_COUNTRIES
from .forms import MAX_METADATA_PAIRS, USER_METADATA_PAIRS, ComposeForm, MetadataRows, SecretRows
from .payloads import form_initial_from_request

REQUEST_FIELDS = {
    "task", "llm", "startUrl", "maxSteps", "structuredOutput", "sessionId", "metadata", "secrets", "allowedDomains",
    "opVaultId", "sessionSettings", "highlightElements", "flashMode", "thinking", "thinkingLevel", "vision",
    "systemPromptExtension", "judge", "judgeGroundTruth", "judgeLlm", "skillIds",
}
SESSION_SETTINGS_FIELDS = {"profileId", "proxyCountryCode", "browserScreenWidth", "browserScreenHeight", "enableRecording"}


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string"


def check_request(body) -> list[str]:
    """Return a message for each problem of a pasted request body that the compose form would not explain."""
    if not isinstance(body, dict):
        return [f"The request must be a JSON object, not {_json_type(body)}."]
    problems = []

    unknown = sorted(set(body) - REQUEST_FIELDS)
    if unknown:
        problems.append(f"Unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: the create-task request has no such field.")

    task = body.get("task")
    if not isinstance(task, str) or not task.strip():
        problems.append("task is empty or missing: describe the task for the agent.")

    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append(f"metadata must be an object of string pairs, not {_json_type(metadata)}.")
    elif metadata:
        if len(metadata) > USER_METADATA_PAIRS:
            problems.append(
                f"metadata has {len(metadata)} pairs; the API accepts at most {MAX_METADATA_PAIRS} and the dashboard "
                f"uses one for its run id, so keep at most {USER_METADATA_PAIRS}."
            )
        for key, value in metadata.items():
            if not isinstance(value, str):
                problems.append(
                    f"metadata value of “{key}” is {_json_type(value)}; the API accepts only strings, such as "
                    f"{json.dumps(json.dumps(value))}."
                )

    schema = body.get("structuredOutput")
    if isinstance(schema, (dict, list)):
        problems.append(
            "structuredOutput is a JSON object, but the API expects the schema as a string: write it as "
            "\"structuredOutput\": \"{\\\"type\\\": ...}\", or paste the schema itself into the Structured output field."
        )
    elif schema is not None and not isinstance(schema, str):
        problems.append(f"structuredOutput must be a string holding a JSON Schema, not {_json_type(schema)}.")

    secrets = body.get("secrets")
    if secrets is not None and not (isinstance(secrets, dict) and all(isinstance(v, str) for v in secrets.values())):
        problems.append("secrets must be an object of domain to credential strings.")

    problems.extend(_check_session_settings(body.get("sessionSettings")))
    return problems


def _check_session_settings(settings) -> list[str]:
    if settings is None:
        return []
    if not isinstance(settings, dict):
        return [f"sessionSettings must be an object, not {_json_type(settings)}."]
    problems = []
    unknown = sorted(set(settings) - SESSION_SETTINGS_FIELDS)
    if unknown:
        problems.append(f"sessionSettings has unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}.")

    country = settings.get("proxyCountryCode")
    if isinstance(country, str):
        if country.lower() == "gb":
            problems.append("sessionSettings.proxyCountryCode is “gb”, but the API's code for the United Kingdom is “uk”.")
        elif country != country.lower() and country.lower() in PROXY_COUNTRIES:
            problems.append(f"sessionSettings.proxyCountryCode must be lowercase: “{country.lower()}”, not “{country}”.")
        elif country not in PROXY_COUNTRIES:
            problems.append(f"sessionSettings.proxyCountryCode “{country}” is not a country code the API accepts.")

    width, height = settings.get("browserScreenWidth"), settings.get("browserScreenHeight")
    if (width is None) != (height is None):
        given, missing = ("browserScreenWidth", "browserScreenHeight") if height is None else ("browserScreenHeight", "browserScreenWidth")
        problems.append(f"sessionSettings has {given} without {missing}: set both screen dimensions, or neither.")
    return problems


def compose_form_from_json(text: str) -> tuple[ComposeForm | None, list[str]]:
    """Return (bound compose form, []) for a valid pasted body, or (None, problems).

    The form is bound, so every field's own limit shows as that field's error. Secret values are kept for
    this request only, like anything else typed into the form.
    """
    try:
        body = json.loads(text)
    except ValueError as error:
        return None, [f"This is not valid JSON: {error}."]
    problems = check_request(body)
    if problems:
        return None, problems

    initial, metadata = form_initial_from_request(body)
    data = {name: value for name, value in initial.items() if value not in (None, False)}
    data.update(_rows(MetadataRows, ComposeForm.prefix_metadata, "key", "value", metadata))
    data.update(_rows(SecretRows, ComposeForm.prefix_secrets, "domain", "credential", body.get("secrets") or {}))
    return ComposeForm(data), []


def _rows(formset_class, prefix: str, key_name: str, value_name: str, pairs: dict) -> dict:
    """Return formset POST data holding `pairs` in its first rows."""
    total = formset_class(prefix=prefix).total_form_count()
    data = {f"{prefix}-TOTAL_FORMS": str(total), f"{prefix}-INITIAL_FORMS": "0"}
    for index, (key, value) in enumerate(list(pairs.items())[:total]):
        data[f"{prefix}-{index}-{key_name}"] = key
        data[f"{prefix}-{index}-{value_name}"] = value
    return data
