from django.contrib import admin

from .models import SandboxFault, SandboxSession, SandboxTask


@admin.register(SandboxTask)
class SandboxTaskAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "created_at", "cost"]
    list_filter = ["status"]


@admin.register(SandboxSession)
class SandboxSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "one_off", "keep_alive", "started_at"]
    list_filter = ["status"]


@admin.register(SandboxFault)
class SandboxFaultAdmin(admin.ModelAdmin):
    list_display = ["route", "kind", "remaining", "created_at"]
