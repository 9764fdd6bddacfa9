"""State of the simulated Browser Use API, kept in the dashboard's database so it survives restarts."""

import uuid

from django.db import models


class SandboxSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=16, default="active")
    # A session created by POST /tasks without sessionId closes when its task ends.
    one_off = models.BooleanField(default=False)
    keep_alive = models.BooleanField(default=True)
    persist_memory = models.BooleanField(default=True)
    settings = models.JSONField(default=dict, help_text="Session settings as sent, without proxy passwords.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    share_token = models.CharField(max_length=64, blank=True)
    share_view_count = models.PositiveIntegerField(default=0)
    share_last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"sandbox session {self.id} ({self.status})"


class SandboxTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(SandboxSession, on_delete=models.CASCADE, related_name="tasks")
    request = models.JSONField(help_text="The create request as received, with secret values removed.")
    status = models.CharField(max_length=16, default="created")
    created_at = models.DateTimeField(db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # How many steps the simulated agent needs; it finishes earlier only when maxSteps is smaller.
    planned_steps = models.PositiveIntegerField()
    steps = models.JSONField(default=list)
    output = models.TextField(null=True, blank=True)
    is_success = models.BooleanField(null=True)
    judge_verdict = models.BooleanField(null=True)
    judgement = models.TextField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    output_files = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"sandbox task {self.id} ({self.status})"


class SandboxFault(models.Model):
    """A failure the sandbox returns for the next `remaining` calls to one route, for tests and demos."""

    KINDS = [
        ("401", "401 invalid API key"),
        ("402", "402 insufficient credits"),
        ("402_cap", "402 monthly spend limit reached"),
        ("404", "404 route not found"),
        ("422", "422 validation error"),
        ("429_capacity", "429 all concurrent sessions busy"),
        ("429_rate", "429 rate limited, Retry-After 5"),
        ("429_edge", "429 rate limited at the edge, Retry-After 300"),
        ("500", "500 internal server error"),
        ("502_json", "502 with a non-FastAPI JSON body"),
        ("502_html", "502 with an HTML page"),
        ("timeout", "no answer before the client's timeout"),
        ("disconnect", "connection dropped before the answer"),
        ("malformed", "200 with malformed JSON"),
        ("lost", "request carried out, answer lost"),
    ]

    route = models.CharField(max_length=64, help_text='Method and route template, such as "POST /tasks".')
    kind = models.CharField(max_length=16, choices=KINDS)
    remaining = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.route}: {self.kind} x{self.remaining}"
