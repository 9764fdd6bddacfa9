"""Turn the compose form's cleaned data into the `POST /tasks` body, and back.

A field left at the API's default is left out of the body, so what is sent reads like what was chosen.
Templates and re-runs build their requests with the same functions.
"""

from .forms import (
    DEFAULT_LLM,
    DEFAULT_MAX_STEPS,
    PROXY_DEFAULT,
    PROXY_NONE,
    RUN_ID_METADATA_KEY,
    SKILLS_ALL,
    SKILLS_SELECTED,
)

SECRET_MASK = "********"

# Form field of each request field, to put a 422 error from the API on the right field.
FORM_FIELD_FOR_API_FIELD = {
    "task": "task",
    "llm": "llm",
    "startUrl": "start_url",
    "maxSteps": "max_steps",
    "structuredOutput": "structured_output",
    "sessionId": "session_id",
    "allowedDomains": "allowed_domains",
    "opVaultId": "op_vault_id",
    "highlightElements": "highlight_elements",
    "flashMode": "flash_mode",
    "thinking": "thinking",
    "thinkingLevel": "thinking_level",
    "vision": "vision",
    "systemPromptExtension": "system_prompt_extension",
    "judge": "judge",
    "judgeGroundTruth": "judge_ground_truth",
    "judgeLlm": "judge_llm",
    "skillIds": "skill_ids",
    "sessionSettings.profileId": "profile_id",
    "sessionSettings.proxyCountryCode": "proxy_country",
    "sessionSettings.browserScreenWidth": "screen_width",
    "sessionSettings.browserScreenHeight": "screen_height",
    "sessionSettings.enableRecording": "enable_recording",
}


def build_task_request(data: dict, metadata: dict[str, str], secrets: dict[str, str]) -> dict:
    """Build the create-task body from TaskForm.cleaned_data and the metadata and secret rows."""
    body: dict = {"task": data["task"]}
    if data.get("llm") and data["llm"] != DEFAULT_LLM:
        body["llm"] = data["llm"]
    if data.get("start_url"):
        body["startUrl"] = data["start_url"]
    if data.get("max_steps") not in (None, DEFAULT_MAX_STEPS):
        body["maxSteps"] = data["max_steps"]
    if data.get("structured_output"):
        body["structuredOutput"] = data["structured_output"]

    if data.get("session_id"):
        body["sessionId"] = str(data["session_id"])
    elif settings := _session_settings(data):
        body["sessionSettings"] = settings

    if metadata:
        body["metadata"] = dict(metadata)
    if secrets:
        body["secrets"] = dict(secrets)
    if data.get("allowed_domains"):
        body["allowedDomains"] = list(data["allowed_domains"])
    if data.get("op_vault_id"):
        body["opVaultId"] = data["op_vault_id"]

    for form_name, api_name in (("highlight_elements", "highlightElements"), ("flash_mode", "flashMode"), ("thinking", "thinking")):
        if data.get(form_name):
            body[api_name] = True
    if data.get("thinking_level"):
        body["thinkingLevel"] = data["thinking_level"]
    vision = data.get("vision") or "true"
    if vision != "true":
        body["vision"] = "auto" if vision == "auto" else False
    if data.get("system_prompt_extension"):
        body["systemPromptExtension"] = data["system_prompt_extension"]

    if data.get("judge"):
        body["judge"] = True
        if data.get("judge_ground_truth", "").strip():
            body["judgeGroundTruth"] = data["judge_ground_truth"]
        if data.get("judge_llm"):
            body["judgeLlm"] = data["judge_llm"]

    if data.get("skills_mode") == SKILLS_ALL:
        body["skillIds"] = ["*"]
    elif data.get("skills_mode") == SKILLS_SELECTED and data.get("skill_ids"):
        body["skillIds"] = list(data["skill_ids"])
    return body


def _session_settings(data: dict) -> dict:
    settings: dict = {}
    if data.get("profile_id"):
        settings["profileId"] = str(data["profile_id"])
    proxy = data.get("proxy_country") or PROXY_DEFAULT
    if proxy == PROXY_NONE:
        settings["proxyCountryCode"] = None
    elif proxy != PROXY_DEFAULT:
        settings["proxyCountryCode"] = proxy
    if data.get("screen_width") and data.get("screen_height"):
        settings["browserScreenWidth"] = data["screen_width"]
        settings["browserScreenHeight"] = data["screen_height"]
    if data.get("enable_recording"):
        settings["enableRecording"] = True
    return settings


def with_run_id(body: dict, run_id: str) -> dict:
    """Return a copy of `body` with the dashboard's run id added to its metadata."""
    return {**body, "metadata": {**(body.get("metadata") or {}), RUN_ID_METADATA_KEY: run_id}}


def mask_secrets(body: dict) -> dict:
    """Return a copy of `body` whose secret values are replaced by a mask; the domains stay readable."""
    if not body.get("secrets"):
        return dict(body)
    return {**body, "secrets": {domain: SECRET_MASK for domain in body["secrets"]}}


def form_initial_from_request(body: dict) -> tuple[dict, dict[str, str]]:
    """Return (TaskForm initial data, metadata rows) that rebuild `body` in the compose form.

    Secret values are not part of a stored request, so they are left for the user to type again.
    """
    session = body.get("sessionSettings") or {}
    proxy = session.get("proxyCountryCode", PROXY_DEFAULT) if "proxyCountryCode" in session else PROXY_DEFAULT
    vision = body.get("vision", True)
    if vision == "auto":
        vision_choice = "auto"
    else:
        vision_choice = "true" if vision is True else "false"
    skill_ids = body.get("skillIds") or []
    if skill_ids == ["*"]:
        skills_mode = SKILLS_ALL
    else:
        skills_mode = SKILLS_SELECTED if skill_ids else "none"
    initial = {
        "task": body.get("task", ""),
        "llm": body.get("llm", DEFAULT_LLM),
        "start_url": body.get("startUrl") or "",
        "max_steps": body.get("maxSteps", DEFAULT_MAX_STEPS),
        "structured_output": body.get("structuredOutput") or "",
        "session_id": body.get("sessionId") or "",
        "profile_id": session.get("profileId") or "",
        "proxy_country": PROXY_NONE if proxy is None else proxy,
        "screen_width": session.get("browserScreenWidth"),
        "screen_height": session.get("browserScreenHeight"),
        "enable_recording": bool(session.get("enableRecording")),
        "vision": vision_choice,
        "thinking": bool(body.get("thinking")),
        "thinking_level": body.get("thinkingLevel") or "",
        "flash_mode": bool(body.get("flashMode")),
        "highlight_elements": bool(body.get("highlightElements")),
        "system_prompt_extension": body.get("systemPromptExtension") or "",
        "allowed_domains": "\n".join(body.get("allowedDomains") or []),
        "op_vault_id": body.get("opVaultId") or "",
        "judge": bool(body.get("judge")),
        "judge_ground_truth": body.get("judgeGroundTruth") or "",
        "judge_llm": body.get("judgeLlm") or "",
        "skills_mode": skills_mode,
        "skill_ids": "" if skill_ids == ["*"] else "\n".join(skill_ids),
    }
    metadata = {k: v for k, v in (body.get("metadata") or {}).items() if k != RUN_ID_METADATA_KEY}
    return initial, metadata


def form_field_for_error_location(loc: list) -> str | None:
    """Return the compose form field that a 422 error's `loc` (such as ["body", "maxSteps"]) names."""
    parts = [str(part) for part in loc if part != "body"]
    if not parts:
        return None
    if parts[0] in ("metadata", "secrets"):
        return parts[0]
    for length in (2, 1):
        name = ".".join(parts[:length])
        if name in FORM_FIELD_FOR_API_FIELD:
            return FORM_FIELD_FOR_API_FIELD[name]
    return None
