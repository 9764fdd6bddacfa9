"""HTTP face of the sandbox: the v2 API at /sandbox/api/v2/ (for curl and the official SDK), step
screenshots, signed downloads and the simulated live view."""

import io
import json
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.utils.csp import CSP
from PIL import Image, ImageDraw

from . import api
from .models import SandboxSession, SandboxTask

DOWNLOAD_MAX_AGE_SECONDS = api.DOWNLOAD_LINK_SECONDS


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
        # Over HTTP a timeout is simulated by answering later than the client waits.
        time.sleep(settings.BROWSER_USE_TIMEOUT_SECONDS + 1)
        return HttpResponse(status=504)
    if reply.fault == "disconnect":
        # NOTE: a WSGI view cannot drop the connection, so over HTTP a lost answer is an empty 502.
        return HttpResponse(status=502)
    content = reply.raw if reply.raw is not None else json.dumps(reply.body)
    response = HttpResponse(content, status=reply.status_code, content_type="application/json")
    for name, value in reply.headers.items():
        response[name] = value
    return response


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
        data = signing.loads(token, salt="sandbox-download", max_age=DOWNLOAD_MAX_AGE_SECONDS)
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
