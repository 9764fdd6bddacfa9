import uuid

from django.conf import settings
from django.db import models

# Statuses of the v2 API; a run also passes through the dashboard's own states below.
TERMINAL_STATUSES = frozenset({"finished", "failed", "stopped"})
LAUNCHING = "launching"
# The create call may or may not have started a task (timeout, dropped connection, 5xx).
UNKNOWN = "unknown"
# The API rejected the create call, so no task exists.
REJECTED = "rejected"
LOCAL_STATUSES = frozenset({LAUNCHING, UNKNOWN, REJECTED})
# Runs in these states no longer change, so nothing polls them.
SETTLED_STATUSES = TERMINAL_STATUSES | {REJECTED}


class Team(models.Model):
    """The owner of runs and templates; every user has at least a personal team."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"
    ROLES = [(OWNER, "Owner"), (ADMIN, "Admin"), (MEMBER, "Member"), (VIEWER, "Viewer")]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLES, default=MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_launch(self) -> bool:
        return self.role != self.VIEWER


class Run(models.Model):
    """One launch of a task from the dashboard, written before the API call so no launch goes unrecorded.

    `id` is also sent in the task's metadata, which lets the dashboard find the task again when the
    answer to the create call was lost.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    task_id = models.UUIDField(null=True, blank=True, unique=True)
    session_id = models.UUIDField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=32, default=LAUNCHING)

    task_text = models.TextField()
    llm = models.CharField(max_length=64)
    request = models.JSONField(help_text="The request body as sent, with secret values replaced by a mask.")

    launched_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    is_success = models.BooleanField(null=True)
    judge_verdict = models.BooleanField(null=True)
    output = models.TextField(null=True, blank=True)
    # The last full task view read from the API, for the detail page.
    snapshot = models.JSONField(null=True, blank=True)

    error = models.TextField(blank=True, help_text="Why the launch or the last refresh failed, in plain words.")
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # When the API was last asked about this run; claims on it keep several tabs to one call per interval.
    polled_at = models.DateTimeField(null=True, blank=True)
    # Consecutive failed refreshes; the status shown is stale while this is above zero.
    poll_failures = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-launched_at"]
        indexes = [models.Index(fields=["team", "-launched_at"], name="run_team_launched")]

    def __str__(self):
        return f"run {self.id} ({self.status})"

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def structured_output_schema(self) -> str | None:
        return self.request.get("structuredOutput")
