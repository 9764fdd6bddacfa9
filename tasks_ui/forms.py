"""The compose form: one field (or row set) for every field of `POST /api/v2/tasks`, with the API's limits."""

import json
import re
import uuid

import jsonschema
from django import forms
from django.core.exceptions import ValidationError
from django.forms.renderers import TemplatesSetting

from .api_enums import PROXY_COUNTRIES, SUPPORTED_LLMS

DEFAULT_LLM = "browser-use-2.0"
DEFAULT_MAX_STEPS = 100
# The dashboard stores its run id under this metadata key to find a task again after a lost response.
RUN_ID_METADATA_KEY = "dashboardRunId"
RESERVED_METADATA_KEYS = (RUN_ID_METADATA_KEY,)
MAX_METADATA_PAIRS = 10
USER_METADATA_PAIRS = MAX_METADATA_PAIRS - len(RESERVED_METADATA_KEYS)
MAX_SECRETS = 20

PROXY_DEFAULT = ""
PROXY_NONE = "none"
PROXY_CHOICES = [
    (PROXY_DEFAULT, "Default (the API's US proxy)"),
    (PROXY_NONE, "No proxy"),
    *[(code, f"{name} ({code})") for code, name in sorted(PROXY_COUNTRIES.items(), key=lambda item: item[1])],
]
LLM_CHOICES = [(name, name) for name in SUPPORTED_LLMS]
VISION_CHOICES = [("true", "On"), ("false", "Off"), ("auto", "Auto (decided by the model)")]
THINKING_LEVEL_CHOICES = [
    ("", "Model default"),
    ("disabled", "Disabled"),
    ("low", "Low"),
    ("medium", "Medium"),
    ("high", "High"),
]
SKILLS_NONE, SKILLS_ALL, SKILLS_SELECTED = "none", "all", "selected"
SKILLS_CHOICES = [(SKILLS_NONE, "No skills"), (SKILLS_ALL, "All skills of the project"), (SKILLS_SELECTED, "These skills")]

EXAMPLE_SCHEMA = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "url": {"type": "string"}, "price": {"type": "number"}},
                "required": ["title", "url"],
            },
        }
    },
    "required": ["items"],
}

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}(?::\d{{1,5}})?"
_DOMAIN_PATTERN = re.compile(rf"^(?:(?:https?|http\*)://)?{_HOST}$")
_EXTENSION_PATTERN = re.compile(r"^chrome-extension://(?:\*|[a-p]{32})$")


def validate_domain_pattern(value: str) -> str:
    """Return `value` lowercased if it is a domain pattern the API accepts, else raise ValidationError.

    Accepted: `example.com`, `*.example.com`, `https://example.com`, `http*://example.com` and
    `chrome-extension://*`. A wildcard top-level domain such as `example.*` is not accepted by the API.
    """
    pattern = value.strip().lower()
    if _EXTENSION_PATTERN.match(pattern):
        return pattern
    # A trailing slash, as in a copied origin "https://example.com/", names no path.
    if pattern.endswith("/") and pattern.count("/") == 3 and "://" in pattern:
        pattern = pattern[:-1]
    host = pattern.split("://", 1)[-1]
    if "/" in host:
        raise ValidationError(f"“{value}” has a path; give only the domain, such as example.com.")
    if host == "*":
        raise ValidationError(f"“{value}” would allow every domain; leave allowed domains empty for no restriction.")
    if host.endswith(".*") or host.endswith("*"):
        raise ValidationError(f"“{value}” uses a wildcard top-level domain, which the API does not accept.")
    port = host.rsplit(":", 1)[1] if ":" in host else ""
    if port.isdigit() and not 1 <= int(port) <= 65_535:
        raise ValidationError(f"“{value}” has port {port}; ports go from 1 to 65535.")
    if not _DOMAIN_PATTERN.match(pattern) or ("." not in host and not host.startswith("localhost")):
        raise ValidationError(
            f"“{value}” is not a valid domain pattern. Use forms like example.com, *.example.com "
            "or http*://example.com."
        )
    return pattern


def check_screen_size(form: forms.Form, data: dict) -> None:
    """Add an error to `form` when only one of `screen_width` and `screen_height` is set: the API needs both or neither."""
    width, height = data.get("screen_width"), data.get("screen_height")
    if (width is None) != (height is None) and "screen_width" not in form.errors and "screen_height" not in form.errors:
        missing = "screen_height" if height is None else "screen_width"
        form.add_error(missing, "Set both the screen width and height, or neither.")


class ProxyCountryField(forms.ChoiceField):
    def validate(self, value):
        if value.lower() == "gb":
            raise ValidationError("The API's code for the United Kingdom is “uk”, not “gb”.", code="invalid_choice")
        super().validate(value)


class MetadataRowForm(forms.Form):
    use_required_attribute = False
    key = forms.CharField(required=False, max_length=100, widget=forms.TextInput(attrs={"placeholder": "key"}))
    value = forms.CharField(
        required=False, max_length=1000, strip=False, widget=forms.TextInput(attrs={"placeholder": "value"})
    )

    def clean(self):
        data = super().clean()
        key, value = data.get("key", "").strip(), data.get("value", "")
        if value and not key:
            self.add_error("key", "Enter a key for this value.")
        if key in RESERVED_METADATA_KEYS:
            self.add_error("key", f"The key “{key}” is reserved for the dashboard's own run id.")
        data["key"] = key
        return data


class SecretRowForm(forms.Form):
    domain = forms.CharField(
        required=False, max_length=255, widget=forms.TextInput(attrs={"placeholder": "example.com"})
    )
    # render_value keeps a typed credential when the same form comes back with an error; it is never
    # filled from stored data.
    credential = forms.CharField(
        required=False,
        max_length=10_000,
        strip=False,
        widget=forms.PasswordInput(render_value=True, attrs={"placeholder": "credential", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        domain, credential = data.get("domain", "").strip(), data.get("credential", "")
        if credential and not domain:
            self.add_error("domain", "Enter the domain this credential is for.")
        if domain and not credential:
            self.add_error("credential", "Enter the credential for this domain.")
        if domain:
            try:
                data["domain"] = validate_domain_pattern(domain)
            except ValidationError as error:
                self.add_error("domain", error)
        return data


class _RowFormSet(forms.BaseFormSet):
    key_field = ""
    duplicate_message = ""

    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            key = form.cleaned_data.get(self.key_field)
            if not key:
                continue
            if key in seen:
                form.add_error(self.key_field, self.duplicate_message.format(key=key))
            seen.add(key)

    def pairs(self) -> dict[str, str]:
        """Return the filled rows as a dict, in the order typed."""
        field, other = self.key_field, "value" if self.key_field == "key" else "credential"
        return {form.cleaned_data[field]: form.cleaned_data[other] for form in self.forms if form.cleaned_data.get(field)}


class MetadataFormSet(_RowFormSet):
    key_field = "key"
    duplicate_message = "The key “{key}” is used twice."
    default_error_messages = {
        "too_many_forms": "Enter at most %(num)d metadata pairs: the API allows 10, and the dashboard uses one for its run id.",
    }


class SecretFormSet(_RowFormSet):
    key_field = "domain"
    duplicate_message = "The domain “{key}” has two credentials; keep one."
    default_error_messages = {"too_many_forms": "Enter at most %(num)d secrets."}


MetadataRows = forms.formset_factory(
    MetadataRowForm, formset=MetadataFormSet, extra=USER_METADATA_PAIRS, max_num=USER_METADATA_PAIRS,
    absolute_max=USER_METADATA_PAIRS, validate_max=True,
)
SecretRows = forms.formset_factory(
    SecretRowForm, formset=SecretFormSet, extra=MAX_SECRETS, max_num=MAX_SECRETS,
    absolute_max=MAX_SECRETS, validate_max=True,
)


class TaskForm(forms.Form):
    """Every field of the create-task request; `metadata` and `secrets` are separate row formsets."""

    # Basics
    task = forms.CharField(
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "What should the agent do?"}),
        error_messages={"required": "Describe the task for the agent."},
    )
    start_url = forms.URLField(
        required=False, max_length=2048, assume_scheme="https", label="Start URL",
        help_text="The page the agent opens first.",
    )
    llm = forms.ChoiceField(choices=LLM_CHOICES, initial=DEFAULT_LLM, label="Model")
    max_steps = forms.IntegerField(
        min_value=1, max_value=10_000, initial=DEFAULT_MAX_STEPS, label="Max steps",
        help_text="The agent stops after this many steps (1 to 10,000).",
    )

    # Output
    structured_output = forms.CharField(
        required=False, max_length=100_000, label="Structured output (JSON Schema)",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text="The agent's answer will be JSON that matches this schema.",
    )

    # Session
    session_id = forms.UUIDField(
        required=False, label="Existing session ID",
        help_text="Run in a session you created, to share its browser with earlier tasks.",
    )
    profile_id = forms.UUIDField(required=False, label="Profile ID")
    proxy_country = ProxyCountryField(choices=PROXY_CHOICES, required=False, label="Proxy country")
    screen_width = forms.IntegerField(required=False, min_value=320, max_value=6144, label="Screen width (px)")
    screen_height = forms.IntegerField(required=False, min_value=320, max_value=3456, label="Screen height (px)")
    enable_recording = forms.BooleanField(required=False, label="Record the session")

    # Agent
    vision = forms.ChoiceField(choices=VISION_CHOICES, initial="true", widget=forms.RadioSelect)
    thinking = forms.BooleanField(required=False, label="Thinking")
    thinking_level = forms.ChoiceField(choices=THINKING_LEVEL_CHOICES, required=False, label="Thinking level")
    flash_mode = forms.BooleanField(required=False, label="Flash mode (faster, less careful)")
    highlight_elements = forms.BooleanField(required=False, label="Highlight interactive elements")
    system_prompt_extension = forms.CharField(
        required=False, max_length=10_000, label="System prompt extension",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # Security
    allowed_domains = forms.CharField(
        required=False, label="Allowed domains", widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One pattern a line: example.com, *.example.com or http*://example.com.",
    )
    op_vault_id = forms.CharField(required=False, max_length=255, label="1Password vault ID")

    # Judge
    judge = forms.BooleanField(required=False, label="Judge the result")
    judge_ground_truth = forms.CharField(
        required=False, max_length=10_000, label="Ground truth", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The expected answer the judge compares against.",
    )
    judge_llm = forms.ChoiceField(choices=[("", "Default judge model"), *LLM_CHOICES], required=False, label="Judge model")

    # Skills
    skills_mode = forms.ChoiceField(choices=SKILLS_CHOICES, initial=SKILLS_NONE, widget=forms.RadioSelect, label="Skills")
    skill_ids = forms.CharField(
        required=False, label="Skill IDs", widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text="One skill ID a line.",
    )

    # Form fields of each section, to open a collapsed section that contains an error.
    SECTIONS = {
        "basics": ["task", "start_url", "llm", "max_steps"],
        "output": ["structured_output"],
        "session": ["session_id", "profile_id", "proxy_country", "screen_width", "screen_height", "enable_recording"],
        "agent": ["vision", "thinking", "thinking_level", "flash_mode", "highlight_elements", "system_prompt_extension"],
        "security": ["allowed_domains", "op_vault_id"],
        "judge": ["judge", "judge_ground_truth", "judge_llm"],
        "skills": ["skills_mode", "skill_ids"],
    }
    SESSION_SETTINGS_FIELDS = ["profile_id", "proxy_country", "screen_width", "screen_height", "enable_recording"]

    def clean_task(self):
        task = self.cleaned_data["task"]
        if not task.strip():
            raise ValidationError("Describe the task for the agent.")
        return task

    def clean_structured_output(self):
        text = self.cleaned_data["structured_output"].strip()
        if not text:
            return ""
        try:
            schema = json.loads(text)
        except ValueError as error:
            raise ValidationError(f"This is not valid JSON: {error}.")
        if not isinstance(schema, dict):
            raise ValidationError("The schema must be a JSON object, such as {\"type\": \"object\", ...}.")
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            where = "/".join(str(part) for part in error.absolute_path) or "the top level"
            raise ValidationError(f"This is not a valid JSON Schema at {where}: {error.message}.")
        return json.dumps(schema, separators=(",", ":"))

    def clean_allowed_domains(self):
        patterns, errors = [], []
        for line in self.cleaned_data["allowed_domains"].splitlines():
            if not line.strip():
                continue
            try:
                pattern = self.clean_domain_line(line.strip())
            except ValidationError as error:
                errors.extend(error.messages)
                continue
            if pattern not in patterns:
                patterns.append(pattern)
        if errors:
            raise ValidationError(errors)
        return patterns

    def clean_domain_line(self, line: str) -> str:
        """Return one allowed-domains line as the API takes it; forms that allow placeholders override this."""
        return validate_domain_pattern(line)

    def clean_skill_ids(self):
        ids = []
        for line in re.split(r"[\s,]+", self.cleaned_data["skill_ids"]):
            if not line:
                continue
            try:
                ids.append(str(uuid.UUID(line)))
            except ValueError:
                raise ValidationError(f"“{line}” is not a skill ID; skill IDs are UUIDs.")
        return ids

    def clean(self):
        data = super().clean()

        check_screen_size(self, data)

        if data.get("session_id"):
            used = [name for name in self.SESSION_SETTINGS_FIELDS if data.get(name)]
            for name in used:
                self.add_error(name, "Session settings apply only to a new session; clear this or the session ID.")

        if not data.get("judge"):
            if data.get("judge_ground_truth", "").strip():
                self.add_error("judge_ground_truth", "Only the judge uses ground truth; turn the judge on or clear this.")
            if data.get("judge_llm"):
                self.add_error("judge_llm", "Only the judge uses this model; turn the judge on or choose the default.")

        mode = data.get("skills_mode")
        if mode == SKILLS_SELECTED and not data.get("skill_ids") and "skill_ids" not in self.errors:
            self.add_error("skill_ids", "Enter at least one skill ID, or choose another skills option.")
        if mode != SKILLS_SELECTED and data.get("skill_ids"):
            self.add_error("skill_ids", "Choose “These skills” to send the listed skill IDs, or clear them.")
        return data

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def sections_with_errors(self) -> set[str]:
        return {section for section, names in self.SECTIONS.items() if any(name in self.errors for name in names)}

    def sections_with_values(self) -> set[str]:
        """Return the sections where a field differs from its default, as typed or as pre-filled."""
        if self.is_bound:
            changed = set(self.changed_data)
        else:
            changed = {name for name, value in self.initial.items() if value not in (None, "", False) and value != self.fields[name].initial}
        return {section for section, names in self.SECTIONS.items() if changed & set(names)}


class ComposeForm:
    """The task form and its two row formsets, validated and rendered together."""

    prefix_metadata = "metadata"
    prefix_secrets = "secrets"
    # Set when the API refused a launch because every concurrent session is busy.
    capacity_full = False

    def __init__(self, data=None, *, initial: dict | None = None, metadata: dict | None = None):
        self.task = TaskForm(data, initial=initial)
        metadata_initial = [{"key": key, "value": value} for key, value in (metadata or {}).items()]
        self.metadata = MetadataRows(data, prefix=self.prefix_metadata, initial=metadata_initial)
        # Credentials are never filled from stored data: only what is typed in this request comes back.
        self.secrets = SecretRows(data, prefix=self.prefix_secrets)

    def is_valid(self) -> bool:
        results = [self.task.is_valid(), self.metadata.is_valid(), self.secrets.is_valid()]
        return all(results)

    def add_error(self, field: str | None, message: str) -> None:
        self.task.add_error(field, message)

    def sections_with_errors(self) -> set[str]:
        sections = self.task.sections_with_errors()
        if any(self.metadata.errors) or self.metadata.non_form_errors():
            sections.add("metadata")
        if any(self.secrets.errors) or self.secrets.non_form_errors():
            sections.add("security")
        return sections

    def open_sections(self) -> set[str]:
        """Return the collapsible sections to show open: those holding an error or a non-default value."""
        sections = self.sections_with_errors() | self.task.sections_with_values()
        if self.metadata.has_changed() or (not self.metadata.is_bound and self.metadata.initial):
            sections.add("metadata")
        if self.secrets.is_bound and self.secrets.has_changed():
            sections.add("security")
        return sections

    def fields_with_errors(self) -> list[str]:
        """Return the labels of the fields that hold an error, in form order, for the request preview."""
        labels = [self.task[name].label for name in self.task.fields if name in self.task.errors]
        if any(self.metadata.errors) or self.metadata.non_form_errors():
            labels.append("Metadata")
        if any(self.secrets.errors) or self.secrets.non_form_errors():
            labels.append("Secrets")
        return labels

    @property
    def has_errors(self) -> bool:
        return self.task.is_bound and bool(self.sections_with_errors() or self.task.non_field_errors())


class DashboardFormRenderer(TemplatesSetting):
    """Render every field through templates/tasks_ui/field.html (see FORM_RENDERER)."""

    field_template_name = "tasks_ui/field.html"
