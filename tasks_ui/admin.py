"""Django admin for the dashboard's models. Encrypted secrets (team keys, proxy passwords, template secrets)
are excluded, so the admin never renders them decrypted."""

from django.contrib import admin

from .models import AuditEvent, Batch, BrowserSession, Invitation, Membership, Run, TaskTemplate, Team, TemplateVersion


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "api_key_last4", "created_at"]
    search_fields = ["name"]
    exclude = ["api_key"]
    readonly_fields = ["api_key_last4"]
    inlines = [MembershipInline]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "launched_by", "status", "llm", "launched_at", "cost", "is_success", "judge_verdict"]
    list_filter = ["status", "llm"]
    search_fields = ["id", "task_id", "task_text"]
    list_select_related = ["team", "launched_by"]
    readonly_fields = [field.name for field in Run._meta.fields]
    date_hierarchy = "launched_at"


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["team", "role", "created_by", "created_at", "expires_at", "used_at", "revoked_at"]
    exclude = ["token_hash"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "actor", "action", "target"]
    list_filter = ["action"]
    list_select_related = ["team", "actor"]


@admin.register(BrowserSession)
class BrowserSessionAdmin(admin.ModelAdmin):
    list_display = ["session_id", "name", "team", "created_by", "created_at"]
    exclude = ["proxy_password"]


@admin.register(TaskTemplate)
class TaskTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "owner", "shared", "updated_at"]
    search_fields = ["name"]


@admin.register(TemplateVersion)
class TemplateVersionAdmin(admin.ModelAdmin):
    list_display = ["template", "number", "created_by", "created_at"]
    exclude = ["secrets"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["id", "template_name", "team", "status", "created_at"]
    list_filter = ["status"]
