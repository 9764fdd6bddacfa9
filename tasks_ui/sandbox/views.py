"""HTTP face of the sandbox: the v2 API at /sandbox/api/v2/ (for curl and the official SDK), the
fault settings page and endpoint, step screenshots, signed downloads, the live view and public shares."""

import io
import json
import logging
import socket
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.db.models import F
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.csp import CSP
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from PIL import Image, ImageDraw

from tasks_ui.client import sandbox_mode

from . import api, faults, serializers
from .forms import FaultForm
from .models import SandboxSession, SandboxTask

logger = logging.getLogger(__name__)


def _client_socket(request) -> socket.socket | None:
    """Return the socket of the client connection, where the WSGI server exposes it.

    gunicorn puts it in the environ. Django's development and live test servers reach it only through the
    request body stream: a LimitedStream that keeps the `read` method of the socket's buffered reader.
    """
    sock = request.META.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        return sock
    read = getattr(request.META.get("wsgi.input"), "_read", None)
    reader = getattr(read, "__self__", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _drop_connection(request) -> HttpResponse:
    sock = _client_socket(request)
    if sock is None:
        # NOTE: under a WSGI server that hides the socket the connection cannot be dropped, so the lost
        # response becomes an empty 502 instead.
        logger.warning("Sandbox cannot drop the connection under this server, so it responds 502 instead")
        return HttpResponse(status=502)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        logger.warning("Sandbox failed to drop the client connection, so it responds 502 instead", exc_info=True)
        return HttpResponse(status=502)
    # The client never receives this response: the server's write fails on the closed socket.
    return HttpResponse(status=204)


@csrf_exempt
@login_not_required
def api_endpoint(request, path):
    reply = api.dispatch(
        method=request.method,
        path="/" + path,
        query=request.GET.dict(),
        api_key=request.headers.get("X-Browser-Use-API-Key", ""),
        body=request.body,
        origin=f"{request.scheme}://{request.get_host()}",
    )
    if reply.fault == "timeout":
        # Over HTTP a timeout is simulated by responding later than the dashboard's client waits.
        time.sleep(settings.BROWSER_USE_TIMEOUT_SECONDS + 1)
        return HttpResponse(status=504)
    if reply.fault == "disconnect":
        return _drop_connection(request)
    content = reply.raw if reply.raw is not None else json.dumps(reply.body)
    response = HttpResponse(content, status=reply.status_code, content_type="application/json")
    for name, value in reply.headers.items():
        response[name] = value
    return response


def _fault_json(fault) -> dict:
    return {"id": fault.pk, "route": fault.route, "kind": fault.kind, "remaining": fault.remaining}


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST", "DELETE"])
def faults_endpoint(request):
    """List (GET), inject (POST) or clear (DELETE) faults; authenticated by the sandbox API key."""
    key = request.headers.get("X-Browser-Use-API-Key", "")
    if key != settings.SANDBOX_API_KEY:
        detail = api.MISSING_KEY_MESSAGE if not key else api.INVALID_KEY_MESSAGE
        logger.warning("Sandbox fault endpoint rejected a %s request: %s", request.method, detail)
        return JsonResponse({"detail": detail}, status=401)

    if request.method == "GET":
        return JsonResponse({"faults": [_fault_json(fault) for fault in faults.pending()]})
    if request.method == "DELETE":
        return JsonResponse({"cleared": faults.clear()})

    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        logger.info("Sandbox fault endpoint rejected a body that is not a JSON object")
        return JsonResponse({"detail": "The body must be a JSON object with route, kind and count."}, status=400)
    try:
        fault = faults.inject(data.get("route"), data.get("kind"), data.get("count", 1))
    except faults.InvalidFault as error:
        logger.info("Sandbox fault endpoint rejected a fault: %s", error)
        return JsonResponse({"detail": str(error)}, status=400)
    logger.info("Sandbox fault %s injected for the next %s calls to %s", fault.kind, fault.remaining, fault.route)
    return JsonResponse(_fault_json(fault), status=201)


@require_http_methods(["GET", "POST"])
def faults_page(request):
    form = FaultForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fault = faults.inject(form.cleaned_data["route"], form.cleaned_data["kind"], form.cleaned_data["count"])
        logger.info("Sandbox fault %s injected for the next %s calls to %s", fault.kind, fault.remaining, fault.route)
        messages.success(request, f"The next {fault.remaining} call(s) to {fault.route} will fail with {fault.get_kind_display()}.")
        return redirect("sandbox:faults")

    context = {"form": form, "faults": faults.pending(), "sandbox_active": sandbox_mode()}
    return render(request, "sandbox/faults.html", context, status=400 if form.errors else 200)


@require_POST
def faults_clear(request):
    cleared = faults.clear()
    messages.success(request, f"Cleared {cleared} pending fault(s).")
    return redirect("sandbox:faults")


@login_not_required
@cache_control(max_age=3600, private=True)
def step_screenshot(request, task_id, number):
    task = SandboxTask.objects.filter(pk=task_id).first()
    if task is None or not 1 <= number <= len(task.steps):
        raise Http404("Screenshot not found")
    step = task.steps[number - 1]

    image = Image.new("RGB", (640, 400), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 640, 36), fill=(52, 58, 70))
    draw.text((14, 12), step["url"][:90], fill=(235, 238, 242))
    draw.rectangle((24, 60, 616, 120), outline=(120, 130, 150), width=2)
    draw.text((36, 70), f"Sandbox step {number}", fill=(30, 34, 40))
    draw.text((36, 92), step["nextGoal"][:80], fill=(60, 66, 76))
    for row in range(4):
        top = 150 + row * 55
        draw.rectangle((24, top, 24 + 420 - row * 60, top + 30), fill=(210 - row * 12, 220, 235))
    draw.text((24, 370), "Simulated by the dashboard sandbox", fill=(140, 146, 156))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return HttpResponse(buffer.getvalue(), content_type="image/png")


@login_not_required
def signed_download(request, token, name):
    try:
        data = signing.loads(token, salt=serializers.DOWNLOAD_SALT, max_age=serializers.DOWNLOAD_LINK_SECONDS)
    except signing.BadSignature:
        return HttpResponse("This download link is invalid or has expired.", status=403, content_type="text/plain")
    task = SandboxTask.objects.filter(pk=data["id"]).first()
    if task is None:
        raise Http404("Task not found")

    if data["kind"] == "logs":
        lines = [f"{task.created_at.isoformat()} task {task.id} created"]
        lines += [f"step {step['number']}: {step['nextGoal']} ({step['url']})" for step in task.steps]
        lines.append(f"status: {task.status}")
        response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
    else:
        response = HttpResponse(task.output or "", content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# The live page is meant to be framed by the dashboard, like the real live view.
@login_not_required
@xframe_options_sameorigin
@csp_override({"default-src": [CSP.SELF], "frame-ancestors": [CSP.SELF]})
def live_view(request, session_id):
    session = SandboxSession.objects.filter(pk=session_id).first()
    if session is None:
        raise Http404("Session not found")
    task = session.tasks.order_by("-created_at").first()
    step = task.steps[-1] if task and task.steps else None
    return render(request, "sandbox/live.html", {"session": session, "task": task, "step": step})


@login_not_required
@xframe_options_sameorigin
@csp_override({"default-src": [CSP.SELF], "frame-ancestors": [CSP.SELF]})
def public_share(request, token):
    """Render the page behind a session's public share URL, which anyone with the link may watch without a key."""
    session = SandboxSession.objects.filter(share_token=token).exclude(share_token="").first()
    if session is None:
        raise Http404("Public share not found")
    # The page reloads itself every few seconds; a view is counted once per browser session.
    seen = request.session.get("sandbox_shares_seen", [])
    if token not in seen:
        SandboxSession.objects.filter(pk=session.pk).update(
            share_view_count=F("share_view_count") + 1, share_last_viewed_at=timezone.now()
        )
        request.session["sandbox_shares_seen"] = [*seen, token]
    task = session.tasks.order_by("-created_at").first()
    step = task.steps[-1] if task and task.steps else None
    return render(request, "sandbox/live.html", {"session": session, "task": task, "step": step, "shared": True})
