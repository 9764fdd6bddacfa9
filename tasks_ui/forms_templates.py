"""Forms of the template pages: the editor (the compose form plus name, variables and kept credentials),
the launch form with a field per variable, and the CSV upload and column mapping of a batch."""

from django import forms
from django.core.exceptions import ValidationError

from tasks_ui.forms import MAX_SECRETS, MetadataRows, TaskForm, validate_domain_pattern
from tasks_ui.payloads import SECRET_MASK, build_task_request
from tasks_ui.services.templates import (
    CHOICE,
    MAX_VARIABLES,
    PLACEHOLDER,
    TEXT,
    VARIABLE_FIELDS_TEXT,
    VARIABLE_TYPES,
    Variable,
    clean_variable_value,
    malformed_placeholders,
    placeholders_in_text,
)

# Stands in for each placeholder while the rest of a URL or domain pattern is checked, because the
# compose form's validators reject "{{name}}" itself.
SAMPLE_VALUE = "example.com"
# Form fields whose text may hold placeholders; metadata values are checked in the editor.
VARIABLE_FORM_FIELDS = ("task", "start_url", "allowed_domains", "judge_ground_truth", "system_prompt_extension")
NOT_SUBSTITUTED = f"Variables are not filled in here; they work only in {VARIABLE_FIELDS_TEXT}."


def _with_samples(text: str) -> str:
    return PLACEHOLDER.sub(SAMPLE_VALUE, text)


class PlaceholderURLField(forms.CharField):
    """The start URL of a template: a URL, or text that becomes a URL once its placeholders are filled."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.url_field = forms.URLField(assume_scheme="https", max_length=self.max_length, required=False)

    def clean(self, value):
        value = super().clean(value)
        if not value or not PLACEHOLDER.search(value):
            return self.url_field.clean(value)
        try:
            self.url_field.clean(_with_samples(value))
        except ValidationError:
            raise ValidationError(
                "Enter a valid URL. With each variable replaced by a sample value this is not one; "
                "a variable may stand for the whole URL or for a part of it."
            )
        return value


class TemplateTaskForm(TaskForm):
    """The compose form's fields with `{{variable}}` placeholders allowed where a launch fills them in.

    The parts around a placeholder are checked with the compose form's own rules; the final request is
    checked again after substitution, at launch.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        original = self.fields["start_url"]
        self.fields["start_url"] = PlaceholderURLField(
            required=False, max_length=original.max_length, label=original.label,
            help_text="The page the agent opens first. May hold variables, such as https://{{shop}}/search.",
        )

    def clean_domain_line(self, line: str) -> str:
        """Check the parts of a line around its placeholders, which are kept for substitution at launch."""
        if not PLACEHOLDER.search(line):
            return validate_domain_pattern(line)
        sample = _with_samples(line)
        try:
            validate_domain_pattern(sample)
        except ValidationError as error:
            raise ValidationError([message.replace(sample, line) for message in error.messages]) from error
        return line

    def clean(self):
        data = super().clean()
        for name in ("structured_output", "op_vault_id"):
            if name not in self.errors and PLACEHOLDER.search(str(self.data.get(self.add_prefix(name), ""))):
                self.add_error(name, NOT_SUBSTITUTED)
        for name in VARIABLE_FORM_FIELDS:
            for text in malformed_placeholders(str(self.data.get(self.add_prefix(name), ""))):
                self.add_error(
                    name, f"“{text}” is not a variable: a variable name has letters, digits and underscores, such as {{{{city_name}}}}."
                )
        return data


class TemplateMetaForm(forms.Form):
    VISIBILITY = [("shared", "Shared with the team"), ("personal", "Only me")]

    name = forms.CharField(max_length=100, error_messages={"required": "Give the template a name."})
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    visibility = forms.ChoiceField(choices=VISIBILITY, initial="shared", widget=forms.RadioSelect, label="Who sees it")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class VariableRowForm(forms.Form):
    name = forms.CharField(widget=forms.HiddenInput, max_length=50)
    type = forms.ChoiceField(choices=VARIABLE_TYPES, initial=TEXT)
    default = forms.CharField(required=False, max_length=2048, strip=False)
    required = forms.BooleanField(required=False, initial=True)
    choices = forms.CharField(
        required=False, max_length=2000, widget=forms.TextInput(attrs={"placeholder": "small, medium, large"}),
        help_text="For a choice: the options, separated by commas.",
    )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        options = list(dict.fromkeys(part.strip() for part in data.get("choices", "").split(",") if part.strip()))
        if data["type"] == CHOICE and not options:
            self.add_error("choices", f"List the options of “{data['name']}”, separated by commas.")
            return data
        data["choices"] = options if data["type"] == CHOICE else []
        variable = Variable(name=data["name"], type=data["type"], default=data.get("default", ""), required=False, choices=tuple(data["choices"]))
        if data.get("default", "").strip():
            try:
                data["default"] = clean_variable_value(variable, data["default"])
            except ValidationError as error:
                self.add_error("default", f"Invalid default: {error.messages[0]}")
        return data

    def variable(self) -> dict:
        data = self.cleaned_data
        return Variable(data["name"], data["type"], data.get("default", ""), data["required"], tuple(data["choices"])).as_dict()


VariableRows = forms.formset_factory(VariableRowForm, extra=0, max_num=MAX_VARIABLES, absolute_max=MAX_VARIABLES)

STORE, ASK = "store", "ask"


class TemplateSecretRowForm(forms.Form):
    """A secret of a template: its domain, and a credential that the template keeps or that is asked at launch."""

    MODES = [(STORE, "Keep (encrypted)"), (ASK, "Ask at launch")]

    domain = forms.CharField(required=False, max_length=255, widget=forms.TextInput(attrs={"placeholder": "example.com"}))
    credential = forms.CharField(
        required=False, max_length=10_000, strip=False,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )
    mode = forms.ChoiceField(choices=MODES, required=False)

    def __init__(self, *args, stored_domains=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.stored_domains = set(stored_domains)
        domain = self.initial.get("domain") or (self.data.get(self.add_prefix("domain")) if self.is_bound else "")
        stored = (domain or "").strip().lower() in self.stored_domains
        self.fields["credential"].widget.attrs["placeholder"] = "kept; type to replace" if stored else "credential"

    def clean(self):
        data = super().clean()
        domain, credential = data.get("domain", "").strip(), data.get("credential", "")
        if not domain:
            if credential:
                self.add_error("domain", "Enter the domain this credential is for.")
            return data
        try:
            data["domain"] = validate_domain_pattern(domain)
        except ValidationError as error:
            self.add_error("domain", error)
            return data
        # A row from the compose form has no mode: a typed credential is kept, a missing one is asked for.
        data["mode"] = data.get("mode") or (STORE if credential else ASK)
        if data["mode"] == STORE and not credential and data["domain"] not in self.stored_domains:
            self.add_error("credential", "Enter the credential to keep, or choose “Ask at launch”.")
        return data


class _TemplateSecretFormSet(forms.BaseFormSet):
    default_error_messages = {"too_many_forms": "Enter at most %(num)d secrets."}

    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for form in self.forms:
            domain = form.cleaned_data.get("domain")
            if domain in seen:
                form.add_error("domain", f"The domain “{domain}” is listed twice; keep one.")
            if domain:
                seen.add(domain)


TemplateSecretRows = forms.formset_factory(
    TemplateSecretRowForm, formset=_TemplateSecretFormSet, extra=MAX_SECRETS, max_num=MAX_SECRETS,
    absolute_max=MAX_SECRETS, validate_max=True,
)


def _posted_variable_rows(data) -> dict[str, dict]:
    rows = {}
    try:
        total = min(int(data.get("variables-TOTAL_FORMS") or 0), MAX_VARIABLES)
    except ValueError:
        total = 0
    for index in range(total):
        name = data.get(f"variables-{index}-name")
        if name:
            rows[name] = {field: data.get(f"variables-{index}-{field}") for field in ("type", "default", "required", "choices")}
    return rows


def variable_rows_data(data, names: list[str]) -> tuple[dict, list[str]]:
    """Return variables formset data with one row per placeholder name, keeping what was posted for a name.

    Also returns the names that had no posted row, which start as required text.
    """
    posted = _posted_variable_rows(data)
    rows = {"variables-TOTAL_FORMS": str(len(names)), "variables-INITIAL_FORMS": "0"}
    new = []
    for index, name in enumerate(names):
        row = posted.get(name)
        if row is None:
            new.append(name)
            row = {"type": TEXT, "default": "", "required": "on", "choices": ""}
        rows[f"variables-{index}-name"] = name
        for field, value in row.items():
            if value is not None:
                rows[f"variables-{index}-{field}"] = value
    return rows, new


def placeholders_in_post(data) -> list[str]:
    """Return the variable names used in the posted compose fields, in order of first use."""
    texts = [str(data.get(name) or "") for name in VARIABLE_FORM_FIELDS]
    try:
        total = int(data.get("metadata-TOTAL_FORMS") or 0)
    except ValueError:
        total = 0
    texts += [str(data.get(f"metadata-{index}-value") or "") for index in range(min(total, 20))]
    names: list[str] = []
    for text in texts:
        for name in placeholders_in_text(text):
            if name not in names:
                names.append(name)
    return names


class TemplateEditor:
    """The template editor's forms, validated and rendered together.

    `check_meta=False` shows posted compose data without complaining that the name is missing, for the
    first view after "Save as template" on the compose page.
    """

    def __init__(
        self, data=None, *, initial=None, metadata=None, meta_initial=None, variables=None, secret_rows=None,
        stored_secrets=None, check_meta=True,
    ):
        self.stored_secrets = dict(stored_secrets or {})
        self.meta = TemplateMetaForm(data if check_meta else None, initial=meta_initial)
        self.task = TemplateTaskForm(data, initial=initial)
        metadata_initial = [{"key": key, "value": value} for key, value in (metadata or {}).items()]
        self.metadata = MetadataRows(data, prefix="metadata", initial=metadata_initial)
        self.secrets = TemplateSecretRows(
            data, prefix="secrets", initial=secret_rows or [], form_kwargs={"stored_domains": self.stored_secrets}
        )
        self.new_variables: list[str] = []
        if data is None:
            self.placeholders = [item["name"] for item in variables or []]
            rows = [{**item, "choices": ", ".join(item.get("choices") or [])} for item in variables or []]
            self.variables = VariableRows(prefix="variables", initial=rows)
        else:
            self.placeholders = placeholders_in_post(data)
            rows, self.new_variables = variable_rows_data(data, self.placeholders)
            self.variables = VariableRows(rows, prefix="variables")
        self.check_meta = check_meta

    def is_valid(self) -> bool:
        results = [
            self.meta.is_valid() if self.check_meta else False,
            self.task.is_valid(),
            self.metadata.is_valid(),
            self.secrets.is_valid(),
            self.variables.is_valid(),
        ]
        if self.metadata.is_valid():
            for form in self.metadata.forms:
                if PLACEHOLDER.search(form.cleaned_data.get("key") or ""):
                    form.add_error("key", "A metadata key cannot hold a variable; only its value can.")
                    results.append(False)
        if len(self.placeholders) > MAX_VARIABLES:
            self.task.add_error(None, f"A template may have at most {MAX_VARIABLES} variables; this one has {len(self.placeholders)}.")
            results.append(False)
        if self.new_variables and self.check_meta:
            names = ", ".join(f"“{name}”" for name in self.new_variables)
            self.task.add_error(None, f"New variables were found: {names}. Check their type and default, then save again.")
            results.append(False)
        return all(results)

    @property
    def has_errors(self) -> bool:
        return bool(
            self.task.errors or any(self.metadata.errors) or self.metadata.non_form_errors() or any(self.secrets.errors)
            or self.secrets.non_form_errors() or any(self.variables.errors) or (self.check_meta and self.meta.errors)
        )

    def open_sections(self) -> set[str]:
        sections = self.task.sections_with_errors() | self.task.sections_with_values()
        if any(self.metadata.errors) or self.metadata.has_changed() or (not self.metadata.is_bound and self.metadata.initial):
            sections.add("metadata")
        if any(self.secrets.errors) or any((form["domain"].value() or "").strip() for form in self.secrets.forms):
            sections.add("security")
        return sections

    def result(self) -> dict:
        """Return what to save: name, description, shared, request (with masks), variables and kept credentials."""
        stored, domains = {}, []
        for form in self.secrets.forms:
            domain = form.cleaned_data.get("domain")
            if not domain:
                continue
            domains.append(domain)
            if form.cleaned_data["mode"] == STORE:
                stored[domain] = form.cleaned_data.get("credential") or self.stored_secrets[domain]
        request = build_task_request(self.task.cleaned_data, self.metadata.pairs(), {domain: SECRET_MASK for domain in domains})
        return {
            "name": self.meta.cleaned_data["name"].strip(),
            "description": self.meta.cleaned_data["description"].strip(),
            "shared": self.meta.cleaned_data["visibility"] == "shared",
            "request": request,
            "variables": [form.variable() for form in self.variables.forms],
            "secrets": stored,
        }


def launch_form_class(variables: list[Variable], secret_domains: list[str]) -> type[forms.Form]:
    """Build the launch form: one field per variable, and a credential field for each domain the
    template does not store. Values are checked by the templates service, so that the launch form and
    a CSV row get the same messages."""
    fields: dict[str, forms.Field] = {}
    for variable in variables:
        label = variable.name + ("" if variable.required else " (optional)")
        help_text = f"Default: {variable.default}" if variable.default else ""
        if variable.type == CHOICE:
            choices = [("", f"Default ({variable.default})" if variable.default else "Choose…")] + [(c, c) for c in variable.choices]
            field = forms.ChoiceField(choices=choices, required=False, label=label)
        elif variable.type == TEXT:
            field = forms.CharField(required=False, strip=False, label=label, help_text=help_text, widget=forms.Textarea(attrs={"rows": 2}))
        else:
            attrs = {"inputmode": "decimal"} if variable.type == "number" else {"placeholder": "https://"}
            field = forms.CharField(required=False, label=label, help_text=help_text, widget=forms.TextInput(attrs=attrs))
        fields[f"var_{variable.name}"] = field
    for index, domain in enumerate(secret_domains):
        fields[f"credential_{index}"] = forms.CharField(
            required=False, strip=False, label=f"Credential for {domain}",
            widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
        )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        forms.Form.__init__(self, *args, **kwargs)

    return type("TemplateLaunchForm", (forms.Form,), {**fields, "__init__": __init__, "secret_domains": secret_domains})


def launch_form_values(form: forms.Form) -> tuple[dict[str, str], dict[str, str]]:
    """Return (variable values, typed credentials) from a bound launch form; empty fields are left out."""
    data = form.cleaned_data if hasattr(form, "cleaned_data") else {}
    values = {name.removeprefix("var_"): value for name, value in data.items() if name.startswith("var_") and value != ""}
    typed = {}
    for index, domain in enumerate(form.secret_domains):
        if data.get(f"credential_{index}"):
            typed[domain] = data[f"credential_{index}"]
    return values, typed


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="UTF-8 text with a header row. The first row under the header is row 1.",
        error_messages={"required": "Choose a CSV file.", "empty": "The file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def mapping_form_class(variables: list[Variable], columns: list[str]) -> type[forms.Form]:
    """Build the column mapping form: for each variable, the CSV column that fills it, or its default."""
    fields = {}
    for variable in variables:
        if variable.default:
            fallback = f"(default: {variable.default})"
        elif variable.required:
            fallback = "(not mapped)"
        else:
            fallback = "(leave empty)"
        choices = [("", fallback)] + [(column, column) for column in columns]
        fields[f"map_{variable.name}"] = forms.ChoiceField(choices=choices, required=False, label=variable.name)
    return type("BatchMappingForm", (forms.Form,), fields)
