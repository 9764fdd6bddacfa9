"""Injected sandbox faults: each kind gives its documented response and the client's matching ApiError.
The fault page and HTTP endpoint inject, list and clear faults and reject invalid input."""

import json

import httpx
import pytest

from tasks_ui import client as api
from tasks_ui.sandbox import faults
from tasks_ui.sandbox.models import SandboxFault, SandboxTask

pytestmark = pytest.mark.django_db

KEY_HEADER = {"HTTP_X_BROWSER_USE_API_KEY": "bu_sandbox"}
FAULTS_API = "/sandbox/faults/api/"
CAPACITY = "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan."

# kind: (error class, status code, body the API sends)
ANSWERED_FAULTS = {
    "401": (api.ApiAuthError, 401, {"detail": "Invalid API key"}),
    "402": (api.ApiPaymentError, 402, {"detail": "Insufficient credits"}),
    "402_cap": (
        api.ApiPaymentError,
        402,
        {"detail": {"code": "api_key_monthly_spend_limit_reached", "message": "API key monthly spend limit reached",
                    "cap": 50, "spent": 50.25}},
    ),
    "404": (api.ApiNotFound, 404, {"detail": "Not Found"}),
    "422": (
        api.ApiValidationError,
        422,
        {"detail": [{"type": "value_error", "loc": ["body", "task"], "msg": "Value error, injected validation failure",
                     "input": None}]},
    ),
    "429_capacity": (api.ApiRateLimited, 429, {"detail": CAPACITY}),
    "429_rate": (
        api.ApiRateLimited,
        429,
        {"error": "rate_limited", "message": "Too many requests. Please slow down.", "limit_rps": 25,
         "retry_after_seconds": 5},
    ),
    "429_edge": (api.ApiRateLimited, 429, {"error": "rate_limited", "message": "Too many requests."}),
    "500": (api.ApiServerError, 500, {"detail": "An internal server error occurred"}),
    "502_json": (api.ApiServerError, 502, {"status": "error", "code": 502, "message": "Application failed to respond"}),
    # An HTML page is no JSON, so the client keeps no body.
    "502_html": (api.ApiServerError, 502, None),
}


def launch(client):
    return client.create_task({"task": "Open example.com and report the title"})


@pytest.mark.parametrize("kind", sorted(ANSWERED_FAULTS))
def test_fault_response_and_error(kind):
    error_class, status, body = ANSWERED_FAULTS[kind]
    faults.inject("POST /tasks", kind)

    with pytest.raises(error_class) as raised:
        launch(api.get_client())

    assert type(raised.value) is error_class
    assert raised.value.status_code == status
    assert raised.value.body == body
    assert SandboxTask.objects.count() == 0


def test_payment_faults_details():
    faults.inject("POST /tasks", "402_cap")
    faults.inject("POST /tasks", "402")
    client = api.get_client()

    with pytest.raises(api.ApiPaymentError) as capped:
        launch(client)
    with pytest.raises(api.ApiPaymentError) as broke:
        launch(client)

    assert (capped.value.cap, capped.value.spent) == (50, 50.25)
    assert (broke.value.cap, broke.value.spent) == (None, None)
    assert "Insufficient credits" in broke.value.message


def test_rate_limit_faults_details():
    for kind in ("429_capacity", "429_rate", "429_edge"):
        faults.inject("GET /billing/account", kind)
    client = api.get_client()

    with pytest.raises(api.ApiRateLimited) as capacity:
        client.get_account()
    with pytest.raises(api.ApiRateLimited) as rate:
        client.get_account()
    with pytest.raises(api.ApiRateLimited) as edge:
        client.get_account()

    assert (capacity.value.capacity, capacity.value.retry_after) == (True, None)
    assert (rate.value.capacity, rate.value.retry_after) == (False, 5)
    assert (edge.value.capacity, edge.value.retry_after) == (False, 300)


def test_route_missing_fault():
    faults.inject("GET /tasks/{task_id}", "404")

    with pytest.raises(api.ApiNotFound) as raised:
        api.get_client().get_task("00000000-0000-4000-8000-000000000000")

    assert raised.value.route_missing is True


def test_validation_fault_errors():
    faults.inject("POST /tasks", "422")

    with pytest.raises(api.ApiValidationError) as raised:
        launch(api.get_client())

    assert raised.value.errors == ANSWERED_FAULTS["422"][2]["detail"]


@pytest.mark.parametrize("kind", ["500", "502_json", "502_html", "timeout", "disconnect", "malformed", "lost"])
def test_outcome_unknown_faults(kind):
    faults.inject("POST /tasks", kind)

    with pytest.raises(api.ApiError) as raised:
        launch(api.get_client())

    assert raised.value.outcome_unknown is True


def test_timeout_fault():
    faults.inject("GET /tasks", "timeout")

    with pytest.raises(api.ApiUnreachable) as raised:
        api.get_client().list_tasks()

    assert raised.value.message == "The Browser Use API did not respond in time."


def test_disconnect_fault():
    faults.inject("GET /tasks", "disconnect")

    with pytest.raises(api.ApiUnreachable) as raised:
        api.get_client().list_tasks()

    assert raised.value.message == "The connection to the Browser Use API failed."


def test_malformed_fault():
    faults.inject("GET /billing/account", "malformed")

    with pytest.raises(api.ApiServerError) as raised:
        api.get_client().get_account()

    assert raised.value.status_code == 200
    assert "not valid JSON" in raised.value.message


def test_lost_fault_carries_out_request():
    faults.inject("POST /tasks", "lost")
    client = api.get_client()

    with pytest.raises(api.ApiUnreachable):
        launch(client)

    assert SandboxTask.objects.count() == 1
    listing = client.list_tasks()
    assert listing["totalItems"] == 1


def test_fault_count_and_route():
    faults.inject("POST /tasks", "500", count=2)
    client = api.get_client()

    assert client.get_account()["name"] == "Sandbox project"
    for _ in range(2):
        with pytest.raises(api.ApiServerError):
            launch(client)
    assert "id" in launch(client)
    assert SandboxFault.objects.count() == 0


def test_faults_apply_in_order():
    faults.inject("GET /billing/account", "401")
    faults.inject("GET /billing/account", "500")
    client = api.get_client()

    with pytest.raises(api.ApiAuthError):
        client.get_account()
    with pytest.raises(api.ApiServerError):
        client.get_account()


@pytest.mark.parametrize(
    ("route", "kind", "count", "message"),
    [
        ("POST /nowhere", "500", 1, "Unknown route 'POST /nowhere'"),
        ("", "500", 1, "Missing route"),
        (None, "500", 1, "Missing route"),
        ("POST /tasks", "503", 1, "Unknown fault kind '503'"),
        ("POST /tasks", None, 1, "Unknown fault kind None"),
        ("POST /tasks", "500", 0, "Invalid count 0"),
        ("POST /tasks", "500", 101, "Invalid count 101"),
        ("POST /tasks", "500", "2", "Invalid count '2'"),
        ("POST /tasks", "500", True, "Invalid count True"),
    ],
)
def test_inject_rejects_bad_input(route, kind, count, message):
    with pytest.raises(faults.InvalidFault) as raised:
        faults.inject(route, kind, count)

    assert str(raised.value).startswith(message)
    assert SandboxFault.objects.count() == 0


def test_inject_normalises_route():
    fault = faults.inject("  get  /tasks/{task_id} ", "500")

    assert fault.route == "GET /tasks/{task_id}"


# The HTTP endpoint.


def post_fault(client, payload, **headers):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(FAULTS_API, body, content_type="application/json", **headers)


def test_endpoint_injects_fault(client):
    response = post_fault(client, {"route": "POST /tasks", "kind": "500", "count": 2}, **KEY_HEADER)

    assert response.status_code == 201
    assert response.json() == {"id": SandboxFault.objects.get().pk, "route": "POST /tasks", "kind": "500", "remaining": 2}
    with pytest.raises(api.ApiServerError):
        launch(api.get_client())


def test_endpoint_count_defaults_to_one(client):
    response = post_fault(client, {"route": "GET /tasks", "kind": "timeout"}, **KEY_HEADER)

    assert response.status_code == 201
    assert response.json()["remaining"] == 1


def test_endpoint_lists_and_clears(client):
    faults.inject("POST /tasks", "500")
    faults.inject("GET /tasks", "lost", count=3)

    listed = client.get(FAULTS_API, **KEY_HEADER)
    cleared = client.delete(FAULTS_API, **KEY_HEADER)

    assert [(f["route"], f["kind"], f["remaining"]) for f in listed.json()["faults"]] == [
        ("POST /tasks", "500", 1),
        ("GET /tasks", "lost", 3),
    ]
    assert cleared.status_code == 200
    assert cleared.json() == {"cleared": 2}
    assert SandboxFault.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"route": "POST /nowhere", "kind": "500"}, "Unknown route 'POST /nowhere'"),
        ({"route": "POST /tasks", "kind": "teapot"}, "Unknown fault kind 'teapot'"),
        ({"route": "POST /tasks", "kind": "500", "count": -1}, "Invalid count -1"),
        ({"kind": "500"}, "Missing route"),
        ("{not json", "The body must be a JSON object"),
        ('["POST /tasks", "500"]', "The body must be a JSON object"),
    ],
)
def test_endpoint_rejects_bad_input(client, payload, message):
    response = post_fault(client, payload, **KEY_HEADER)

    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert SandboxFault.objects.count() == 0


@pytest.mark.parametrize(("headers", "detail"), [({}, "X-Browser-Use-API-Key header is required"),
                                                 ({"HTTP_X_BROWSER_USE_API_KEY": "bu_wrong"}, "Invalid API key")])
def test_endpoint_requires_sandbox_key(client, headers, detail):
    injected = post_fault(client, {"route": "POST /tasks", "kind": "500"}, **headers)
    cleared = client.delete(FAULTS_API, **headers)

    assert injected.status_code == 401
    assert injected.json() == {"detail": detail}
    assert cleared.status_code == 401
    assert SandboxFault.objects.count() == 0


# The settings page.


def test_page_requires_login(client):
    response = client.get("/sandbox/faults/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_page_injects_and_lists(alice_client):
    response = alice_client.post("/sandbox/faults/", {"route": "GET /tasks/{task_id}", "kind": "502_html", "count": "3"})
    page = alice_client.get("/sandbox/faults/")

    assert response.status_code == 302
    fault = SandboxFault.objects.get()
    assert (fault.route, fault.kind, fault.remaining) == ("GET /tasks/{task_id}", "502_html", 3)
    assert "502 with an HTML page" in page.content.decode()
    assert "GET /tasks/{task_id}" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"route": "POST /nowhere", "kind": "500", "count": "1"}, "route"),
        ({"route": "POST /tasks", "kind": "teapot", "count": "1"}, "kind"),
        ({"route": "POST /tasks", "kind": "500", "count": "0"}, "count"),
        ({"route": "POST /tasks", "kind": "500", "count": "many"}, "count"),
    ],
)
def test_page_rejects_bad_input(alice_client, data, field):
    response = alice_client.post("/sandbox/faults/", data)

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert SandboxFault.objects.count() == 0


def test_page_clears_faults(alice_client):
    faults.inject("POST /tasks", "500")

    response = alice_client.post("/sandbox/faults/clear/")

    assert response.status_code == 302
    assert SandboxFault.objects.count() == 0


# Over real HTTP, where the transport faults must reach the socket.


@pytest.mark.django_db(transaction=True)
def test_http_lost_drops_connection(live_server):
    faults.inject("POST /tasks", "lost")

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            f"{live_server.url}/sandbox/api/v2/tasks",
            json={"task": "Carried out, answer lost"},
            headers={"X-Browser-Use-API-Key": "bu_sandbox"},
        )

    assert SandboxTask.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_http_html_bad_gateway(live_server):
    faults.inject("GET /billing/account", "502_html")

    response = httpx.get(f"{live_server.url}/sandbox/api/v2/billing/account", headers={"X-Browser-Use-API-Key": "bu_sandbox"})

    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")
