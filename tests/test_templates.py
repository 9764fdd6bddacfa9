"""Templates: placeholders and variables, the editor's checks, launches, "Run again", versions and the list.

Launches go through the real views and services, the httpx client and the in-process sandbox, whose
SandboxTask rows show what reached the simulated API.
"""

import html
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tasks_ui.forms import RUN_ID_METADATA_KEY, ComposeForm
from tasks_ui.forms_templates import TemplateEditor
from tasks_ui.models import Run, TaskTemplate, TemplateVersion
from tasks_ui.payloads import SECRET_MASK, build_task_request
from tasks_ui.sandbox.models import SandboxTask
from tasks_ui.services import templates as services
from tests.conftest import compose_data

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Template-credential"


def variable(name, type="text", default="", required=True, choices=()):
    return {"name": name, "type": type, "default": default, "required": required, "choices": list(choices)}


def make_template(team, owner, request=None, variables=None, *, secrets=None, shared=True, name="Price check"):
    request = request or {"task": "Find the price of {{product}} on {{shop}}", "startUrl": "{{shop}}"}
    variables = variables if variables is not None else [variable("product"), variable("shop", "url", "https://shop.example.com")]
    return services.template_create(
        team=team, user=owner, name=name, description="", shared=shared, request=request, variables=variables,
        secrets=secrets or {},
    )


def editor_data(*, name="Price check", visibility="shared", variables=(), **fields) -> dict:
    """Return POST data for the template editor: compose-form data, the template fields and variable rows."""
    secrets = fields.pop("secrets", {})
    modes = fields.pop("modes", {})
    data = compose_data(**fields)
    data.update({"name": name, "description": "", "visibility": visibility})
    data.update({"variables-TOTAL_FORMS": str(len(variables)), "variables-INITIAL_FORMS": "0"})
    for index, row in enumerate(variables):
        data[f"variables-{index}-name"] = row["name"]
        data[f"variables-{index}-type"] = row.get("type", "text")
        data[f"variables-{index}-default"] = row.get("default", "")
        data[f"variables-{index}-choices"] = ", ".join(row.get("choices", ()))
        if row.get("required", True):
            data[f"variables-{index}-required"] = "on"
    for index, (domain, credential) in enumerate(secrets.items()):
        data[f"secrets-{index}-domain"] = domain
        data[f"secrets-{index}-credential"] = credential
        if domain in modes:
            data[f"secrets-{index}-mode"] = modes[domain]
    return data


def text(response) -> str:
    """Return the response's HTML with entities decoded, so JSON in a <pre> reads as typed."""
    return html.unescape(response.content.decode())


def sent_request(run: Run) -> dict:
    """Return what reached the sandbox for `run`, without the dashboard's run id."""
    request = dict(SandboxTask.objects.get(pk=run.task_id).request)
    request["metadata"] = {k: v for k, v in request.get("metadata", {}).items() if k != RUN_ID_METADATA_KEY}
    if not request["metadata"]:
        del request["metadata"]
    return request


# Placeholders and values


def test_placeholders_in_variable_fields():
    request = {
        "task": "Buy {{ item }} for {{budget}}",
        "startUrl": "https://{{shop}}/",
        "allowedDomains": ["{{shop}}", "*.{{cdn}}"],
        "metadata": {"campaign": "{{campaign}}"},
        "judgeGroundTruth": "{{expected}}",
        "systemPromptExtension": "Be polite to {{item}}",
        "structuredOutput": '{"description": "{{ignored}}"}',
    }

    assert services.request_placeholders(request) == ["item", "budget", "shop", "expected", "cdn", "campaign"]


def test_render_fills_every_field():
    request = {
        "task": "Buy {{item}}",
        "startUrl": "https://{{shop}}/search?q={{item}}",
        "allowedDomains": ["{{shop}}", "{{extra}}"],
        "metadata": {"campaign": "{{campaign}}-1"},
        "judgeGroundTruth": "A {{item}}",
        "systemPromptExtension": "Shop: {{shop}}",
    }
    values = {"item": "lamp", "shop": "shop.example.com", "extra": "", "campaign": "winter"}

    body = services.render_request(request, values)

    assert body == {
        "task": "Buy lamp",
        "startUrl": "https://shop.example.com/search?q=lamp",
        "allowedDomains": ["shop.example.com"],
        "metadata": {"campaign": "winter-1"},
        "judgeGroundTruth": "A lamp",
        "systemPromptExtension": "Shop: shop.example.com",
    }
    assert request["task"] == "Buy {{item}}"


def test_render_names_unknown_variable():
    with pytest.raises(services.LaunchInvalid) as raised:
        services.render_request({"task": "Open {{site}} and {{page}}"}, {"site": "x"})

    assert raised.value.errors == ["The template uses {{page}}, which is not one of its variables."]


VALUES = [
    pytest.param(variable("n", "number"), "42", "42", None, id="number"),
    pytest.param(variable("n", "number"), " -3.5 ", "-3.5", None, id="number-negative"),
    pytest.param(variable("n", "number"), "ten", None, "“ten” is not a number, but “n” takes a number", id="number-bad"),
    pytest.param(variable("u", "url"), "example.com/a", "https://example.com/a", None, id="url-scheme-added"),
    pytest.param(variable("u", "url"), "not a url", None, "“not a url” is not a valid URL for “u”", id="url-bad"),
    pytest.param(variable("c", "choice", choices=["red", "blue"]), "blue", "blue", None, id="choice"),
    pytest.param(variable("c", "choice", choices=["red", "blue"]), "green", None, "“green” is not a choice of “c”; choose one of “red”, “blue”", id="choice-bad"),
    pytest.param(variable("t"), "", None, "Enter a value for “t”; it is required and has no default.", id="required-empty"),
    pytest.param(variable("t", default="fallback"), "", "fallback", None, id="default-used"),
    pytest.param(variable("t", required=False), "", "", None, id="optional-empty"),
    pytest.param(variable("t"), "  keep spaces ", "  keep spaces ", None, id="text-kept"),
]


@pytest.mark.parametrize("definition, raw, expected, message", VALUES)
def test_variable_values(definition, raw, expected, message):
    given = {definition["name"]: raw}

    if message is None:
        assert services.resolve_values([services.Variable.from_dict(definition)], given) == {definition["name"]: expected}
    else:
        with pytest.raises(services.LaunchInvalid) as raised:
            services.resolve_values([services.Variable.from_dict(definition)], given)
        assert message in raised.value.variable_errors[definition["name"]]


def test_values_reject_unknown_name():
    with pytest.raises(services.LaunchInvalid) as raised:
        services.resolve_values([services.Variable("a")], {"a": "1", "b": "2"})

    assert raised.value.variable_errors == {"b": "“b” is not a variable of this template."}


def test_final_request_checked_by_compose_form(team, alice):
    template = make_template(
        team, alice, {"task": "Open {{site}}", "startUrl": "{{site}}", "maxSteps": 5}, [variable("site")]
    )

    with pytest.raises(services.LaunchInvalid) as raised:
        services.prepare_launch(services.latest_version(template), {"site": "not a url"})

    assert raised.value.errors == ["Start URL (from {{site}}): Enter a valid URL."]


def test_compose_round_trip():
    """A request built by the compose form survives the way into form data and back unchanged."""
    form = ComposeForm(
        compose_data(
            task="Check {{x}}", start_url="https://example.com/", llm="o3", max_steps="12", proxy_country="none",
            screen_width="1024", screen_height="768", vision="auto", thinking="on", thinking_level="high",
            allowed_domains="example.com\n*.example.org", judge="on", judge_ground_truth="Yes",
            skills_mode="all", structured_output='{"type": "object"}', metadata={"a": "1", "b": "two"},
        )
    )
    assert form.is_valid()
    body = build_task_request(form.task.cleaned_data, form.metadata.pairs(), {})

    assert services.validate_request(body, {"example.com": "pw"}) == (body, {"example.com": "pw"})


# The editor


def test_editor_accepts_placeholders_in_urls_and_domains():
    data = editor_data(
        task="Find {{product}} at {{shop}}",
        start_url="https://{{shop}}/search?q={{product}}",
        allowed_domains="{{shop}}\n*.{{shop}}\nExample.COM",
        metadata={"campaign": "{{campaign}}"},
        variables=[variable("product"), variable("shop", default="shop.example.com"), variable("campaign", required=False)],
    )

    editor = TemplateEditor(data)

    assert editor.is_valid(), editor.task.errors
    result = editor.result()
    assert result["request"] == {
        "task": "Find {{product}} at {{shop}}",
        "startUrl": "https://{{shop}}/search?q={{product}}",
        "allowedDomains": ["{{shop}}", "*.{{shop}}", "example.com"],
        "metadata": {"campaign": "{{campaign}}"},
    }
    assert [item["name"] for item in result["variables"]] == ["product", "shop", "campaign"]
    assert result["variables"][2]["required"] is False


EDITOR_REJECTED = [
    pytest.param({"allowed_domains": "{{sub}}.example.*"}, "allowed_domains", "“{{sub}}.example.*” uses a wildcard top-level domain", id="domain-wildcard-tld"),
    pytest.param({"allowed_domains": "{{sub}}.example.com/path"}, "allowed_domains", "has a path", id="domain-path"),
    pytest.param({"start_url": "https://{{host}} bad"}, "start_url", "Enter a valid URL", id="url-around-placeholder"),
    pytest.param({"structured_output": '{"title": "{{x}}"}'}, "structured_output", "Variables are not filled in here", id="schema-placeholder"),
    pytest.param({"task": "Open {{two words}}"}, "task", "“{{two words}}” is not a variable", id="malformed-placeholder"),
]


@pytest.mark.parametrize("fields, field, message", EDITOR_REJECTED)
def test_editor_rejects(fields, field, message):
    names = services.request_placeholders({"task": fields.get("task", ""), "startUrl": fields.get("start_url", ""),
                                           "allowedDomains": fields.get("allowed_domains", "").splitlines()})
    editor = TemplateEditor(editor_data(variables=[variable(name) for name in names], **fields))

    assert not editor.is_valid()
    assert list(editor.task.errors) == [field]
    assert message in " ".join(editor.task.errors[field])


def test_editor_rejects_placeholder_in_metadata_key():
    editor = TemplateEditor(editor_data(metadata={"{{key}}": "value"}))

    assert not editor.is_valid()
    assert editor.metadata.forms[0].errors["key"] == ["A metadata key cannot hold a variable; only its value can."]


def test_editor_asks_to_review_new_variables():
    editor = TemplateEditor(editor_data(task="Open {{site}} for {{user}}", variables=[variable("site")]))

    assert not editor.is_valid()
    assert editor.task.non_field_errors() == [
        "New variables were found: “user”. Check their type and default, then save again."
    ]
    assert [form["name"].value() for form in editor.variables.forms] == ["site", "user"]


def test_editor_checks_variable_defaults():
    data = editor_data(task="Buy {{n}} of {{colour}}", variables=[variable("n", "number", "many"), variable("colour", "choice")])
    editor = TemplateEditor(data)

    assert not editor.is_valid()
    assert editor.variables.forms[0].errors["default"] == ["Invalid default: “many” is not a number, but “n” takes a number, such as 42 or 3.5."]
    assert editor.variables.forms[1].errors["choices"] == ["List the options of “colour”, separated by commas."]


def test_editor_secret_modes():
    data = editor_data(
        secrets={"kept.example.com": SECRET, "asked.example.com": "", "missing.example.com": ""},
        modes={"kept.example.com": "store", "asked.example.com": "ask", "missing.example.com": "store"},
    )
    editor = TemplateEditor(data)

    assert not editor.is_valid()
    assert editor.secrets.forms[2].errors == {"credential": ["Enter the credential to keep, or choose “Ask at launch”."]}

    data["secrets-2-domain"] = ""
    editor = TemplateEditor(data)
    assert editor.is_valid()
    result = editor.result()
    assert result["secrets"] == {"kept.example.com": SECRET}
    assert result["request"]["secrets"] == {"kept.example.com": SECRET_MASK, "asked.example.com": SECRET_MASK}


# Views: saving


def test_save_as_template_from_compose(alice_client):
    data = compose_data(task="Find the price of {{product}}", start_url="{{shop}}", secrets={"shop.example.com": SECRET})
    data["source"] = "compose"

    response = alice_client.post(reverse("tasks_ui:template-new"), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="Find the price of {{product}}"' in page
    assert 'data-variable="product"' in page
    assert 'data-variable="shop"' in page
    assert "Give the template a name" not in page
    assert TaskTemplate.objects.count() == 0


def test_save_template_stores_version_one(alice_client, team, alice):
    data = editor_data(
        name="Lamp prices", task="Find {{product}}", start_url="{{shop}}",
        variables=[variable("product"), variable("shop", "url", "https://shop.example.com")],
        secrets={"shop.example.com": SECRET},
    )

    response = alice_client.post(reverse("tasks_ui:template-new"), data)

    template = TaskTemplate.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("tasks_ui:template-detail", args=[template.pk])
    version = template.versions.get()
    assert (template.name, template.owner, template.shared, version.number) == ("Lamp prices", alice, True, 1)
    assert version.request == {"task": "Find {{product}}", "startUrl": "{{shop}}", "secrets": {"shop.example.com": SECRET_MASK}}
    assert services.version_secrets(version) == {"shop.example.com": SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM tasks_ui_templateversion")
        raw = cursor.fetchone()[0]
    assert SECRET not in raw
    assert SECRET not in json.dumps(version.request)


def test_save_from_run_prefills_editor(alice_client, team, alice):
    run = Run.objects.create(team=team, launched_by=alice, task_text="Check the weather", llm="o3",
                             request={"task": "Check the weather", "llm": "o3", "secrets": {"weather.example.com": SECRET_MASK}})

    response = alice_client.get(reverse("tasks_ui:template-new") + f"?from_run={run.pk}")

    page = response.content.decode()
    assert "Check the weather</textarea>" in page
    assert 'value="weather.example.com"' in page
    assert SECRET_MASK not in page


# Views: launching


def test_launch_sends_filled_request(alice_client, team, alice):
    template = make_template(team, alice, secrets={"shop.example.com": SECRET},
                             request={"task": "Find the price of {{product}}", "startUrl": "{{shop}}", "secrets": {"shop.example.com": SECRET_MASK}})

    response = alice_client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"var_product": "coffee", "var_shop": ""})

    run = Run.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("tasks_ui:run-detail", args=[run.pk])
    assert (run.template, run.template_name) == (template, "Price check")
    sent = SandboxTask.objects.get(pk=run.task_id).request
    assert sent["task"] == "Find the price of coffee"
    assert sent["startUrl"] == "https://shop.example.com"
    assert sent["secrets"] == ["shop.example.com"]
    assert run.request["secrets"] == {"shop.example.com": SECRET_MASK}


def test_launch_names_missing_variable(alice_client, team, alice):
    template = make_template(team, alice)

    response = alice_client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"var_product": ""})

    assert response.status_code == 200
    assert "Enter a value for “product”; it is required and has no default." in response.content.decode()
    assert Run.objects.count() == 0


def test_launch_asks_for_unstored_credential(alice_client, team, alice):
    request = {"task": "Log in as {{user}}", "secrets": {"login.example.com": SECRET_MASK}}
    template = make_template(team, alice, request, [variable("user")])
    url = reverse("tasks_ui:template-launch", args=[template.pk])

    missing = alice_client.post(url, {"var_user": "ann"})
    typed = alice_client.post(url, {"var_user": "ann", "credential_0": SECRET})

    assert "Enter the credential for login.example.com; the template does not store it." in missing.content.decode()
    assert typed.status_code == 302
    assert SandboxTask.objects.get().request["secrets"] == ["login.example.com"]


def test_launch_preview_fills_values(alice_client, team, alice):
    template = make_template(team, alice)
    url = reverse("tasks_ui:template-launch-preview", args=[template.pk])

    filled = alice_client.post(url, {"var_product": "tea", "var_shop": "https://tea.example.com"}, HTTP_HX_REQUEST="true")
    empty = alice_client.post(url, {"var_product": ""}, HTTP_HX_REQUEST="true")

    assert '"task": "Find the price of tea on https://tea.example.com"' in text(filled)
    assert '"dashboardRunId": "(assigned at launch)"' in text(filled)
    assert '"task": "Find the price of {{product}} on https://shop.example.com"' in text(empty)
    assert "Enter a value for “product”" in text(empty)
    assert Run.objects.count() == 0


def test_run_again_sends_same_request(alice_client, team, alice):
    template = make_template(team, alice)
    alice_client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"var_product": "tea"})
    first = Run.objects.get()

    page = alice_client.get(reverse("tasks_ui:run-again", args=[first.pk]))
    response = alice_client.post(reverse("tasks_ui:run-again", args=[first.pk]))

    second = Run.objects.exclude(pk=first.pk).get()
    assert "Find the price of tea" in page.content.decode()
    assert response.url == reverse("tasks_ui:run-detail", args=[second.pk])
    assert sent_request(second) == sent_request(first)
    assert second.template == template


def test_run_again_asks_for_credentials(alice_client, team, alice):
    response = alice_client.post(
        reverse("tasks_ui:compose"), compose_data(task="Log in", secrets={"login.example.com": SECRET})
    )
    first = Run.objects.get()
    url = reverse("tasks_ui:run-again", args=[first.pk])

    missing = alice_client.post(url)
    typed = alice_client.post(url, {"credential_0": "another-secret"})

    assert response.status_code == 302
    assert "Enter the credential for login.example.com; runs keep no credentials." in missing.content.decode()
    assert typed.status_code == 302
    assert Run.objects.count() == 2
    assert sent_request(Run.objects.exclude(pk=first.pk).get()) == sent_request(first)


def test_run_again_uses_kept_credential_only_for_owner(client, team, alice, bob):
    template = make_template(team, alice, {"task": "Log in", "secrets": {"login.example.com": SECRET_MASK}}, [],
                             secrets={"login.example.com": SECRET}, shared=False)
    client.force_login(alice)
    client.post(reverse("tasks_ui:template-launch", args=[template.pk]))
    first = Run.objects.get()

    client.force_login(bob)
    by_bob = client.post(reverse("tasks_ui:run-again", args=[first.pk]))
    client.force_login(alice)
    by_alice = client.post(reverse("tasks_ui:run-again", args=[first.pk]))

    assert "Enter the credential for login.example.com" in by_bob.content.decode()
    assert by_alice.status_code == 302
    assert Run.objects.count() == 2


BAD_BODIES = [
    pytest.param({"task": "x", "maxSteps": 0}, id="max-steps-zero"),
    pytest.param({"task": "x", "llm": "gpt-99"}, id="llm-unknown"),
    pytest.param({"task": "x", "allowedDomains": ["example.*"]}, id="domain-wildcard"),
    pytest.param({"task": "x", "judgeGroundTruth": "y"}, id="ground-truth-without-judge"),
    pytest.param({"task": "x", "sessionSettings": {"browserScreenWidth": 100, "browserScreenHeight": 900}}, id="screen-too-small"),
    pytest.param({"task": "   "}, id="task-blank"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_request_check_matches_compose_form(body):
    """The launch check shares the compose form's field objects; its errors must stay the compose form's."""
    form = ComposeForm(services.compose_data_for(body, {}))
    assert not form.is_valid()

    with pytest.raises(services.LaunchInvalid) as raised:
        services.validate_request(body, {})

    expected = [message for errors in form.task.errors.values() for message in errors]
    assert [error.split(": ", 1)[-1] for error in raised.value.errors] == expected


# Versions, copies and deletion


def test_edit_adds_version_and_restore(alice_client, team, alice):
    template = make_template(team, alice)
    edit = reverse("tasks_ui:template-edit", args=[template.pk])
    variables = [variable("product"), variable("shop", "url", "https://shop.example.com")]

    alice_client.post(edit, editor_data(task="Find the price of {{product}} on {{shop}}", start_url="{{shop}}", variables=variables))
    assert template.versions.count() == 1

    alice_client.post(edit, editor_data(task="Compare {{product}} prices on {{shop}}", start_url="{{shop}}", variables=variables))
    assert template.versions.count() == 2
    assert services.latest_version(template).request["task"] == "Compare {{product}} prices on {{shop}}"

    alice_client.post(reverse("tasks_ui:template-restore", args=[template.pk, 1]))
    versions = list(template.versions.order_by("number"))
    assert [version.number for version in versions] == [1, 2, 3]
    assert (versions[2].request, versions[2].variables) == (versions[0].request, versions[0].variables)

    page = text(alice_client.get(reverse("tasks_ui:template-detail", args=[template.pk])))
    assert '-    "task": "Compare {{product}} prices on {{shop}}"' in page
    assert '+    "task": "Find the price of {{product}} on {{shop}}"' in page
    assert "Restore version 1" in page


def test_edit_keeps_stored_credential(alice_client, team, alice):
    template = make_template(team, alice, {"task": "Log in", "secrets": {"login.example.com": SECRET_MASK}}, [],
                             secrets={"login.example.com": SECRET})

    page = alice_client.get(reverse("tasks_ui:template-edit", args=[template.pk])).content.decode()
    alice_client.post(
        reverse("tasks_ui:template-edit", args=[template.pk]),
        editor_data(task="Log in and check mail", secrets={"login.example.com": ""}, modes={"login.example.com": "store"}),
    )

    assert SECRET not in page
    assert "kept; type to replace" in page
    assert services.version_secrets(services.latest_version(template)) == {"login.example.com": SECRET}


def test_duplicate_copies_current_version(alice_client, team, alice, bob):
    template = make_template(team, alice, secrets={"a.example.com": SECRET})
    alice_client.force_login(bob)

    alice_client.post(reverse("tasks_ui:template-duplicate", args=[template.pk]))

    copy = TaskTemplate.objects.exclude(pk=template.pk).get()
    assert (copy.name, copy.owner) == ("Copy of Price check", bob)
    assert copy.versions.get().request == template.versions.get().request
    assert services.version_secrets(copy.versions.get()) == {"a.example.com": SECRET}


def test_delete_keeps_runs(alice_client, team, alice):
    template = make_template(team, alice)
    alice_client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"var_product": "tea"})

    response = alice_client.post(reverse("tasks_ui:template-delete", args=[template.pk]))

    run = Run.objects.get()
    assert response.url == reverse("tasks_ui:template-list")
    assert TaskTemplate.objects.count() == 0
    assert TemplateVersion.objects.count() == 0
    assert (run.template, run.template_name) == (None, "Price check")
    detail = alice_client.get(reverse("tasks_ui:run-detail", args=[run.pk])).content.decode()
    assert "From the deleted template “Price check”" in detail


# Visibility and roles


def test_personal_template_hidden_from_team(client, team, alice, bob):
    personal = make_template(team, alice, shared=False, name="Mine only")
    make_template(team, alice, name="For everyone")
    client.force_login(bob)

    listing = client.get(reverse("tasks_ui:template-list")).content.decode()

    assert "For everyone" in listing
    assert "Mine only" not in listing
    assert client.get(reverse("tasks_ui:template-detail", args=[personal.pk])).status_code == 404
    assert client.get(reverse("tasks_ui:template-launch", args=[personal.pk])).status_code == 404


def test_other_team_sees_nothing(client, team, alice, oscar):
    template = make_template(team, alice)
    client.force_login(oscar)

    assert client.get(reverse("tasks_ui:template-detail", args=[template.pk])).status_code == 404
    assert "Price check" not in client.get(reverse("tasks_ui:template-list")).content.decode()


def test_viewer_reads_but_cannot_save_or_launch(client, team, alice, victor):
    template = make_template(team, alice)
    client.force_login(victor)

    assert client.get(reverse("tasks_ui:template-detail", args=[template.pk])).status_code == 200
    assert client.get(reverse("tasks_ui:template-new")).status_code == 403
    assert client.post(reverse("tasks_ui:template-launch", args=[template.pk]), {"var_product": "x"}).status_code == 403
    assert client.post(reverse("tasks_ui:template-delete", args=[template.pk])).status_code == 403
    assert Run.objects.count() == 0


def test_member_cannot_edit_personal_template_of_other(client, team, alice, bob):
    template = make_template(team, alice, shared=False)
    client.force_login(bob)

    assert client.post(reverse("tasks_ui:template-restore", args=[template.pk, 1])).status_code == 404


# The list


def add_run(template, user, *, status="finished", cost=None, success=None):
    return Run.objects.create(
        team=template.team, launched_by=user, template=template, template_name=template.name, task_text="t",
        llm="browser-use-2.0", request={"task": "t"}, status=status, cost=cost, is_success=success,
    )


def test_list_statistics(alice_client, team, alice):
    template = make_template(team, alice)
    add_run(template, alice, cost=Decimal("0.02"), success=True)
    add_run(template, alice, cost=Decimal("0.04"), success=False)
    add_run(template, alice, status="started")
    make_template(team, alice, name="Unused")

    page = alice_client.get(reverse("tasks_ui:template-list")).content.decode()
    listed = services_list(team, alice)

    assert (listed[0].name, listed[0].run_count, listed[0].success_rate, listed[0].average_cost) == ("Price check", 3, 0.5, Decimal("0.03"))
    assert (listed[1].name, listed[1].run_count, listed[1].success_rate, listed[1].last_run_at) == ("Unused", 0, None, None)
    assert "50%" in page
    assert "$0.0300" in page


def services_list(team, user, **kwargs):
    from tasks_ui.selectors.templates import template_list

    return template_list(team=team, user=user, **kwargs)


def test_list_query_count_does_not_grow(alice_client, team, alice):
    for index in range(3):
        add_run(make_template(team, alice, name=f"T{index}"), alice, cost=Decimal("0.01"))
    with CaptureQueriesContext(connection) as few:
        alice_client.get(reverse("tasks_ui:template-list"))
    for index in range(3, 9):
        add_run(make_template(team, alice, name=f"T{index}"), alice, cost=Decimal("0.01"))
    with CaptureQueriesContext(connection) as many:
        response = alice_client.get(reverse("tasks_ui:template-list"))

    assert response.content.decode().count('id="template-') == 9
    assert len(many) == len(few)


def test_list_search_and_mine(team, alice, bob):
    make_template(team, alice, name="Weather report")
    make_template(team, bob, name="Price check")

    assert [t.name for t in services_list(team, alice, search="weather")] == ["Weather report"]
    assert [t.name for t in services_list(team, alice, mine=True)] == ["Weather report"]
    assert [t.name for t in services_list(team, alice, search="nothing")] == []
