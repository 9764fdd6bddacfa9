from django.contrib import admin

from .models import Membership, Run, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "team", "launched_by", "status", "llm", "launched_at", "cost", "is_success", "judge_verdict"]
    list_filter = ["status", "llm"]
    search_fields = ["id", "task_id", "task_text"]
    list_select_related = ["team", "launched_by"]
    readonly_fields = [field.name for field in Run._meta.fields]
    date_hierarchy = "launched_at"
