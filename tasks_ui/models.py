import hashlib
import uuid

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField

# Statuses of the v2 API; a run also passes through the dashboard's own states below.
TERMINAL_STATUSES = frozenset({"finished", "failed", "stopped"})
LAUNCHING = "launching"
# The create call may or may not have started a task (timeout, dropped connection, 5xx).
UNKNOWN = "unknown"
# The API rejected the create call, so no task exists.
REJECTED = "rejected"
# The outcome was unknown, and no task with the run's id turned up at the API afterwards.
NOT_STARTED = "not_started"
LOCAL_STATUSES = frozenset({LAUNCHING, UNKNOWN, REJECTED, NOT_STARTED})
# Runs in these states no longer change, so nothing polls them.
SETTLED_STATUSES = TERMINAL_STATUSES | {REJECTED, NOT_STARTED}


class Team(models.Model):
    """The owner of runs and templates; every user has at least a personal team."""

    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # The team's Browser Use key, encrypted at rest (see FIELD_ENCRYPTION_KEYS); empty means the
    # deployment-wide BROWSER_USE_API_KEY, or the sandbox when that is empty too.
    api_key = EncryptedCharField(max_length=500, blank=True, null=True, default="")
    api_key_last4 = models.CharField(max_length=4, blank=True, help_text="The last four characters, for display.")
    base_url = models.URLField(blank=True, help_text="Empty for the default API base URL.")

    def __str__(self):
        return self.name


class Invitation(models.Model):
    """A single-use link that adds the user who opens it to a team. Only a hash of the token is stored."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(max_length=16, default="member")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def __str__(self):
        return f"invitation to {self.team} as {self.role}"


class AuditEvent(models.Model):
    """An action on a team's objects, with its actor, time and target, for owners and admins."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=64, help_text='Dotted name, such as "run.launched" or "team.key_changed".')
    target = models.CharField(max_length=200, blank=True, help_text="What the action was done to, such as a run id.")
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team", "-created_at"], name="audit_team_created")]

    def __str__(self):
        return f"{self.action} {self.target}"


class Membership(models.Model):
    OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"
    ROLES = [(OWNER, "Owner"), (ADMIN, "Admin"), (MEMBER, "Member"), (VIEWER, "Viewer")]

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=ROLES, default=MEMBER)
    joined_at = models.DateTimeField(auto_now_add=True)
    # The team a user switched to last is their current team.
    selected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def can_launch(self) -> bool:
        """Launch, stop and save templates: everyone but viewers."""
        return self.role != self.VIEWER

    @property
    def can_manage(self) -> bool:
        """Manage members, invitations and team settings, and read the audit log."""
        return self.role in (self.OWNER, self.ADMIN)

    @property
    def is_owner(self) -> bool:
        return self.role == self.OWNER


class Run(models.Model):
    """One launch of a task from the dashboard, written before the API call so no launch goes unrecorded.

    `id` is also sent in the task's metadata, which lets the dashboard find the task again when the
    response to the create call was lost.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="runs")
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    task_id = models.UUIDField(null=True, blank=True, unique=True)
    session_id = models.UUIDField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=32, default=LAUNCHING)

    template = models.ForeignKey("TaskTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    # Kept when the template is deleted, so its runs still show where they came from.
    template_name = models.CharField(max_length=100, blank=True)

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


class BrowserSession(models.Model):
    """A session the team created with `POST /sessions`; the API stores its state, and this row its owner and name."""

    session_id = models.UUIDField(unique=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="browser_sessions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    name = models.CharField(max_length=100, blank=True)
    request = models.JSONField(default=dict, help_text="The create request as sent, without the proxy password.")
    # Kept only so the session's settings can be shown and re-used; never rendered back.
    proxy_password = EncryptedCharField(max_length=500, blank=True, null=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name or str(self.session_id)


class TaskTemplate(models.Model):
    """A saved compose form that a team re-runs; its request lives in versions, newest last."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="templates")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    shared = models.BooleanField(default=True, help_text="Visible to the whole team, not only to its owner.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TemplateVersion(models.Model):
    template = models.ForeignKey(TaskTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    request = models.JSONField(help_text="The create-task body with {{variable}} placeholders and no secret values.")
    variables = models.JSONField(default=list, help_text="[{name, type, default, required, choices}]")
    # Secret values the template keeps, as a JSON object of domain to credential, encrypted at rest.
    secrets = EncryptedTextField(blank=True, null=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "number"]
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="unique_template_version")]

    def __str__(self):
        return f"{self.template} v{self.number}"


class Batch(models.Model):
    """A template launched once per row of a CSV file, by the background worker."""

    DRAFT, RUNNING, PAUSED, CANCELLED, FINISHED = "draft", "running", "paused", "cancelled", "finished"
    STATUSES = [(DRAFT, "Draft"), (RUNNING, "Running"), (PAUSED, "Paused"), (CANCELLED, "Cancelled"), (FINISHED, "Finished")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="batches")
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.SET_NULL, null=True, related_name="batches")
    template_name = models.CharField(max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    status = models.CharField(max_length=16, choices=STATUSES, default=DRAFT)
    file_name = models.CharField(max_length=255, blank=True)
    columns = models.JSONField(default=list, help_text="The CSV header, in order.")
    mapping = models.JSONField(default=dict, help_text="Variable name to CSV column.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker launches nothing before this time, after a 429 with Retry-After.
    resume_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"batch of {self.template_name} ({self.status})"


class BatchRow(models.Model):
    QUEUED, LAUNCHING, LAUNCHED, FAILED, CANCELLED, INVALID = "queued", "launching", "launched", "failed", "cancelled", "invalid"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    index = models.PositiveIntegerField(help_text="Row number in the file, from 1.")
    values = models.JSONField(help_text="The row's cells by column name.")
    status = models.CharField(max_length=16, default=QUEUED)
    run = models.OneToOneField("Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="batch_row")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="unique_batch_row")]
        indexes = [models.Index(fields=["batch", "status"], name="batchrow_batch_status")]

    def __str__(self):
        return f"row {self.index} of {self.batch_id} ({self.status})"
