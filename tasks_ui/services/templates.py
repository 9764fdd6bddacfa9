"""Task templates: saved create-task requests with `{{variable}}` placeholders, their versions, and launches.

A version stores the body that the compose form builds, with placeholders left in the fields that take
variables and every secret value replaced by a mask. Credentials that the template keeps are stored
apart, encrypted, in `TemplateVersion.secrets`. A launch substitutes the values and then validates the
final request with the compose form's own rules, so a template never sends what the form would reject.
"""

import difflib
import json
import logging
import re
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from tasks_ui.forms import MAX_SECRETS, RUN_ID_METADATA_KEY, ComposeForm, MetadataRows, SecretRows, TaskForm
from tasks_ui.models import Batch, Membership, Run, TaskTemplate, TemplateVersion
from tasks_ui.payloads import FORM_FIELD_FOR_API_FIELD, SECRET_MASK, build_task_request, form_initial_from_request
from tasks_ui.services import runs as run_services
from tasks_ui.services.audit import audit

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,49})\s*\}\}")
# Any pair of double braces, to name a malformed placeholder such as "{{ two words }}".
ANY_BRACES = re.compile(r"\{\{(.*?)\}\}")
# Request fields where placeholders are substituted; metadata means the metadata values, not the keys.
VARIABLE_FIELDS = ("task", "startUrl", "allowedDomains", "metadata", "judgeGroundTruth", "systemPromptExtension")
VARIABLE_FIELDS_TEXT = "the task, start URL, allowed domains, metadata values, ground truth and system prompt extension"
MAX_VARIABLES = 30

TEXT, NUMBER, URL, CHOICE = "text", "number", "url", "choice"
VARIABLE_TYPES = [(TEXT, "Text"), (NUMBER, "Number"), (URL, "URL"), (CHOICE, "Choice")]

_url_field = forms.URLField(assume_scheme="https", max_length=2048)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class TemplateError(Exception):
    """An action on a template cannot be done. `message` explains why, in words for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LaunchInvalid(Exception):
    """The values or the final request are invalid. `errors` are messages that name the variable or field;
    `variable_errors` maps a variable name to the message about it."""

    def __init__(self, errors: list[str], variable_errors: dict[str, str] | None = None):
        super().__init__("; ".join(errors))
        self.errors = errors
        self.variable_errors = variable_errors or {}


@dataclass(frozen=True)
class Variable:
    name: str
    type: str = TEXT
    default: str = ""
    required: bool = True
    choices: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict) -> "Variable":
        return cls(
            name=data["name"],
            type=data.get("type") or TEXT,
            default=str(data.get("default") or ""),
            required=bool(data.get("required", True)),
            choices=tuple(data.get("choices") or ()),
        )

    def as_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required, "choices": list(self.choices)}


# Placeholders


def placeholders_in_text(text: str) -> list[str]:
    return PLACEHOLDER.findall(text or "")


def malformed_placeholders(text: str) -> list[str]:
    """Return each `{{...}}` in `text` that is not a valid placeholder, such as "{{two words}}"."""
    return [match.group(0) for match in ANY_BRACES.finditer(text or "") if not PLACEHOLDER.fullmatch(match.group(0))]


def _variable_texts(request: dict):
    """Yield (request field, text) for every string of the request where placeholders are substituted."""
    for field in ("task", "startUrl", "judgeGroundTruth", "systemPromptExtension"):
        if isinstance(request.get(field), str):
            yield field, request[field]
    for domain in request.get("allowedDomains") or []:
        yield "allowedDomains", domain
    for value in (request.get("metadata") or {}).values():
        yield "metadata", str(value)


def request_placeholders(request: dict) -> list[str]:
    """Return the variable names a request uses, in order of first use."""
    names: list[str] = []
    for _, text in _variable_texts(request):
        for name in placeholders_in_text(text):
            if name not in names:
                names.append(name)
    return names


def field_placeholders(request: dict, field: str) -> list[str]:
    return [name for key, text in _variable_texts(request) if key == field for name in placeholders_in_text(text)]


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace each placeholder that has a value in `values`; others stay as they are."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def render_request(request: dict, values: dict[str, str], *, strict: bool = True) -> dict:
    """Return `request` with every placeholder replaced by its value.

    An allowed-domain line that becomes empty (an optional variable left blank) is dropped. Raises
    LaunchInvalid naming each placeholder that has no value, unless `strict` is False, which leaves
    those placeholders in place for a preview.
    """
    unknown = [name for name in request_placeholders(request) if name not in values]
    if unknown and strict:
        raise LaunchInvalid([f"The template uses {{{{{name}}}}}, which is not one of its variables." for name in unknown])

    body = json.loads(json.dumps(request))
    for field in ("task", "startUrl", "judgeGroundTruth", "systemPromptExtension"):
        if isinstance(body.get(field), str):
            body[field] = substitute(body[field], values)
    if body.get("allowedDomains"):
        body["allowedDomains"] = [line for line in (substitute(d, values).strip() for d in body["allowedDomains"]) if line]
    if body.get("metadata"):
        body["metadata"] = {key: substitute(str(value), values) for key, value in body["metadata"].items()}
    return body


# Variable values


def clean_variable_value(variable: Variable, raw) -> str:
    """Return the value to substitute for `variable` from the typed or CSV value `raw`.

    An empty value falls back to the default. Raises ValidationError with a message that names the variable.
    """
    text = "" if raw is None else str(raw)
    value = text if variable.type == TEXT else text.strip()
    if value == "" or (variable.type == TEXT and not value.strip()):
        value = variable.default
    if value == "":
        if variable.required:
            raise ValidationError(f"Enter a value for “{variable.name}”; it is required and has no default.")
        return ""

    if variable.type == NUMBER:
        if not _NUMBER.match(value):
            raise ValidationError(f"“{value}” is not a number, but “{variable.name}” takes a number, such as 42 or 3.5.")
    elif variable.type == URL:
        try:
            value = _url_field.clean(value)
        except ValidationError:
            raise ValidationError(f"“{value}” is not a valid URL for “{variable.name}”; use a form like https://example.com/page.")
    elif variable.type == CHOICE and value not in variable.choices:
        options = ", ".join(f"“{choice}”" for choice in variable.choices)
        raise ValidationError(f"“{value}” is not a choice of “{variable.name}”; choose one of {options}.")
    return value


def resolve_values(variables: list[Variable], given: dict[str, str]) -> dict[str, str]:
    """Return the value of every variable from `given` and the defaults; raise LaunchInvalid naming each problem."""
    known = {variable.name for variable in variables}
    errors: dict[str, str] = {}
    for name in given:
        if name not in known:
            errors[name] = f"“{name}” is not a variable of this template."
    values = {}
    for variable in variables:
        try:
            values[variable.name] = clean_variable_value(variable, given.get(variable.name))
        except ValidationError as error:
            errors[variable.name] = error.messages[0]
    if errors:
        raise LaunchInvalid(list(errors.values()), errors)
    return values


# The final request, checked with the compose form


def compose_data_for(body: dict, secrets: dict[str, str]) -> dict:
    """Return POST data for ComposeForm that rebuilds `body` and `secrets`, as a person would type them."""
    initial, metadata = form_initial_from_request(body)
    data: dict[str, str] = {}
    for name, value in initial.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    data.update({"metadata-TOTAL_FORMS": str(len(metadata)), "metadata-INITIAL_FORMS": "0"})
    for index, (key, value) in enumerate(metadata.items()):
        data[f"metadata-{index}-key"], data[f"metadata-{index}-value"] = key, str(value)
    data.update({"secrets-TOTAL_FORMS": str(min(len(secrets), MAX_SECRETS)), "secrets-INITIAL_FORMS": "0"})
    for index, (domain, credential) in enumerate(secrets.items()):
        data[f"secrets-{index}-domain"], data[f"secrets-{index}-credential"] = domain, credential
    return data


_API_FIELD_FOR_FORM_FIELD = {form_field: api_field for api_field, form_field in FORM_FIELD_FOR_API_FIELD.items()}


def _form_messages(form: ComposeForm, template_request: dict) -> list[str]:
    """Return every error of a bound ComposeForm as "Field: message", naming the variables that fed the field."""
    messages = []

    def origin(api_field: str) -> str:
        names = field_placeholders(template_request, api_field) if api_field in VARIABLE_FIELDS else []
        unique = list(dict.fromkeys(names))
        return f" (from {', '.join('{{' + name + '}}' for name in unique)})" if unique else ""

    for name, errors in form.task.errors.items():
        if name == "__all__":
            messages.extend(errors)
            continue
        label = form.task.fields[name].label or name.replace("_", " ").capitalize()
        where = origin(_API_FIELD_FOR_FORM_FIELD.get(name, ""))
        messages.extend(f"{label}{where}: {message}" for message in errors)
    for formset, label, api_field in ((form.metadata, "Metadata", "metadata"), (form.secrets, "Secrets", "secrets")):
        for row in formset.errors:
            for errors in row.values():
                messages.extend(f"{label}{origin(api_field)}: {message}" for message in errors)
        messages.extend(f"{label}: {message}" for message in formset.non_form_errors())
    return messages


class _SharedFields(dict):
    """Form fields that instances share rather than copy.

    Django deep-copies every field of a form for each instance, choice lists included, which takes
    about 1 ms for the compose form and 12 s for a 10,000-row file. Fields are only read while data
    is validated, so a form that is never rendered can share them.
    """

    def __deepcopy__(self, memo):
        return dict(self)


class _CheckingTaskForm(TaskForm):
    """The compose form's TaskForm, with the same fields and rules, for validating data only."""


_CheckingTaskForm.base_fields = _SharedFields(TaskForm.base_fields)


def _checking_compose_form(data: dict) -> ComposeForm:
    """Return a bound ComposeForm whose task form shares its fields; see _SharedFields."""
    form = ComposeForm.__new__(ComposeForm)
    form.task = _CheckingTaskForm(data)
    form.metadata = MetadataRows(data, prefix=ComposeForm.prefix_metadata)
    form.secrets = SecretRows(data, prefix=ComposeForm.prefix_secrets)
    return form


def validate_request(body: dict, secrets: dict[str, str], *, template_request: dict | None = None) -> tuple[dict, dict]:
    """Return (body, secrets) as the compose form builds them from `body`; raise LaunchInvalid if it rejects them."""
    form = _checking_compose_form(compose_data_for(body, secrets))
    if not form.is_valid():
        raise LaunchInvalid(_form_messages(form, template_request or {}))
    return build_task_request(form.task.cleaned_data, form.metadata.pairs(), {}), form.secrets.pairs()


# Versions and their secrets


def version_variables(version: TemplateVersion) -> list[Variable]:
    return [Variable.from_dict(item) for item in version.variables or []]


def version_secrets(version: TemplateVersion) -> dict[str, str]:
    """Return the credentials the version keeps, decrypted: domain to credential."""
    if not version.secrets:
        return {}
    try:
        stored = json.loads(version.secrets)
    except ValueError:
        logger.error("The stored secrets of template version %s are not valid JSON; they are ignored", version.pk)
        return {}
    return {str(domain): str(value) for domain, value in stored.items()} if isinstance(stored, dict) else {}


def secret_domains(request: dict) -> list[str]:
    return list((request.get("secrets") or {}).keys())


def latest_version(template: TaskTemplate) -> TemplateVersion:
    return template.versions.order_by("-number").first()


def prepare_launch(
    version: TemplateVersion, given: dict[str, str], typed_secrets: dict[str, str] | None = None
) -> tuple[dict, dict[str, str]]:
    """Return the (body, secrets) that launching `version` with the values `given` sends.

    Credentials come from `typed_secrets`, else from the template. Raises LaunchInvalid naming each
    unfilled or invalid variable, each missing credential and each field the compose form rejects.
    """
    values = resolve_values(version_variables(version), given)
    body = render_request({key: value for key, value in version.request.items() if key != "secrets"}, values)
    stored = version_secrets(version)
    secrets, missing = {}, []
    for domain in secret_domains(version.request):
        credential = (typed_secrets or {}).get(domain) or stored.get(domain)
        if credential:
            secrets[domain] = credential
        else:
            missing.append(domain)
    if missing:
        raise LaunchInvalid([f"Enter the credential for {domain}; the template does not store it." for domain in missing])
    return validate_request(body, secrets, template_request=version.request)


def partial_request(version: TemplateVersion, given: dict[str, str]) -> dict:
    """Return the version's request with the valid values of `given` filled in and other placeholders left,
    for showing while values are still being typed."""
    values = {}
    for variable in version_variables(version):
        try:
            value = clean_variable_value(variable, given.get(variable.name))
        except ValidationError:
            continue
        values[variable.name] = value
    return render_request(version.request, values, strict=False)


def preview_json(body: dict, secrets: dict[str, str] | None = None) -> str:
    """Return the request as the launch would send it, with secrets masked and the run id still to come."""
    shown = dict(body)
    if secrets:
        shown["secrets"] = {domain: SECRET_MASK for domain in secrets}
    shown["metadata"] = {**(shown.get("metadata") or {}), RUN_ID_METADATA_KEY: "(assigned at launch)"}
    return json.dumps(shown, indent=2, ensure_ascii=False)


def version_document(version: TemplateVersion) -> str:
    """Return the version as pretty JSON for diffs: request, variables and which domains keep a credential."""
    document = {
        "request": version.request,
        "variables": version.variables,
        "storedCredentialsFor": sorted(version_secrets(version)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)


def version_diff(older: TemplateVersion | None, newer: TemplateVersion) -> list[str]:
    """Return the unified diff lines from `older` to `newer` (everything added when `older` is None)."""
    before = version_document(older).splitlines() if older else []
    after = version_document(newer).splitlines()
    return list(
        difflib.unified_diff(
            before, after, fromfile=f"version {older.number}" if older else "(none)", tofile=f"version {newer.number}", lineterm=""
        )
    )


# Permissions


def can_edit(membership: Membership, template: TaskTemplate) -> bool:
    """Return whether the member may edit or restore the template: its owner, or any launcher for a shared one."""
    if not membership.can_launch:
        return False
    return template.owner_id == membership.user_id or template.shared


def can_delete(membership: Membership, template: TaskTemplate) -> bool:
    return membership.can_launch and (
        template.owner_id == membership.user_id or membership.role in (Membership.OWNER, Membership.ADMIN)
    )


# Writes


def _dump_secrets(secrets: dict[str, str]) -> str:
    return json.dumps(secrets) if secrets else ""


@transaction.atomic
def template_create(
    *, team, user, name: str, description: str, shared: bool, request: dict, variables: list[dict], secrets: dict[str, str]
) -> TaskTemplate:
    """Create a template with its first version. `request` keeps masks, never credentials."""
    template = TaskTemplate.objects.create(team=team, owner=user, name=name, description=description, shared=shared)
    TemplateVersion.objects.create(
        template=template, number=1, request=request, variables=variables, secrets=_dump_secrets(secrets), created_by=user
    )
    audit(team=team, actor=user, action="template.created", target=name, shared=shared)
    logger.info("Created template %s (%s) in team %s", template.pk, name, team.pk)
    return template


def _same_content(version: TemplateVersion, request: dict, variables: list[dict], secrets: dict[str, str]) -> bool:
    return version.request == request and version.variables == variables and version_secrets(version) == secrets


@transaction.atomic
def template_update(
    *, template: TaskTemplate, user, name: str, description: str, shared: bool, request: dict, variables: list[dict],
    secrets: dict[str, str],
) -> TemplateVersion | None:
    """Save an edit: the name, description and sharing in place, and a new version when the content changed.

    Returns the new version, or None when the request, variables and credentials are unchanged.
    """
    TaskTemplate.objects.select_for_update().filter(pk=template.pk).first()
    sharing_changed = template.shared != shared
    template.name, template.description, template.shared = name, description, shared
    template.save(update_fields=["name", "description", "shared", "updated_at"])
    if sharing_changed:
        audit(team=template.team, actor=user, action="template.shared" if shared else "template.unshared", target=name)

    current = latest_version(template)
    if current and _same_content(current, request, variables, secrets):
        return None
    version = _add_version(template, user, request=request, variables=variables, secrets=_dump_secrets(secrets))
    audit(team=template.team, actor=user, action="template.edited", target=name, version=version.number)
    return version


def _add_version(template: TaskTemplate, user, *, request, variables, secrets: str) -> TemplateVersion:
    number = (template.versions.aggregate(highest=Max("number"))["highest"] or 0) + 1
    return TemplateVersion.objects.create(
        template=template, number=number, request=request, variables=variables, secrets=secrets, created_by=user
    )


@transaction.atomic
def template_restore(*, template: TaskTemplate, number: int, user) -> TemplateVersion:
    """Add a new version equal to version `number`, so history only grows."""
    TaskTemplate.objects.select_for_update().filter(pk=template.pk).first()
    old = template.versions.filter(number=number).first()
    if old is None:
        raise TemplateError(f"Version {number} of this template does not exist.")
    version = _add_version(template, user, request=old.request, variables=old.variables, secrets=old.secrets or "")
    TaskTemplate.objects.filter(pk=template.pk).update(updated_at=version.created_at)
    audit(team=template.team, actor=user, action="template.restored", target=template.name, version=number)
    return version


@transaction.atomic
def template_duplicate(*, template: TaskTemplate, user) -> TaskTemplate:
    """Copy the template's current version into a new template that `user` owns."""
    source = latest_version(template)
    name = f"Copy of {template.name}"[:100]
    copy = TaskTemplate.objects.create(
        team=template.team, owner=user, name=name, description=template.description, shared=template.shared
    )
    TemplateVersion.objects.create(
        template=copy, number=1, request=source.request, variables=source.variables, secrets=source.secrets or "", created_by=user
    )
    audit(team=template.team, actor=user, action="template.created", target=name, copied_from=template.name)
    return copy


def template_delete(*, template: TaskTemplate, user) -> None:
    """Delete the template and its versions. Its runs stay, with the template's name kept on each."""
    unfinished = Batch.objects.filter(template_version__template=template, status__in=[Batch.RUNNING, Batch.PAUSED])
    if unfinished.exists():
        raise TemplateError("A batch of this template is still running or paused. Cancel it first.")
    with transaction.atomic():
        Run.objects.filter(template=template).update(template_name=template.name)
        Batch.objects.filter(template_version__template=template).update(template_name=template.name)
        template.delete()
    audit(team=template.team, actor=user, action="template.deleted", target=template.name)
    logger.info("Deleted template %s (%s)", template.pk, template.name)


# Launches


def template_launch(
    *, template: TaskTemplate, user, given: dict[str, str], typed_secrets: dict[str, str] | None = None
) -> Run:
    """Launch the template's current version with the values `given`.

    Raises LaunchInvalid before any call when a value or the final request is invalid, and
    run_services.LaunchFailed when the API does not start the task.
    """
    version = latest_version(template)
    body, secrets = prepare_launch(version, given, typed_secrets)
    return run_services.run_launch(team=template.team, user=user, body=body, secrets=secrets, template=template)


def _kept_secrets_for(run: Run, user) -> dict[str, str]:
    """Return the credentials the run's template keeps, if `user` may see that template."""
    template = run.template
    if template is None or not (template.shared or template.owner_id == user.pk):
        return {}
    return version_secrets(latest_version(template))


def run_again_secrets_needed(run: Run, user) -> list[str]:
    """Return the secret domains of a run that `user` must type again: those its template does not keep."""
    stored = _kept_secrets_for(run, user)
    return [domain for domain in secret_domains(run.request) if domain not in stored]


def run_again_prepare(*, run: Run, user, typed_secrets: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """Return the (body, secrets) that "Run again" sends: the run's request, with credentials from the
    template or `typed_secrets`, checked again with the compose form."""
    body = {key: value for key, value in run.request.items() if key != "secrets"}
    body["metadata"] = {k: v for k, v in (body.get("metadata") or {}).items() if k != RUN_ID_METADATA_KEY}
    if not body["metadata"]:
        del body["metadata"]
    stored = _kept_secrets_for(run, user)
    secrets, missing = {}, []
    for domain in secret_domains(run.request):
        credential = typed_secrets.get(domain) or stored.get(domain)
        if credential:
            secrets[domain] = credential
        else:
            missing.append(domain)
    if missing:
        raise LaunchInvalid([f"Enter the credential for {domain}; runs keep no credentials." for domain in missing])
    return validate_request(body, secrets)


def run_again(*, run: Run, user, typed_secrets: dict[str, str]) -> Run:
    """Send the same request as `run` once more; the new run belongs to the same template, if it still exists."""
    body, secrets = run_again_prepare(run=run, user=user, typed_secrets=typed_secrets)
    return run_services.run_launch(team=run.team, user=user, body=body, secrets=secrets, template=run.template)
