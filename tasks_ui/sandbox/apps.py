from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "tasks_ui.sandbox"
    label = "sandbox"
    verbose_name = "Browser Use sandbox"
