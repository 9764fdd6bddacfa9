from django.apps import AppConfig


class TasksUiConfig(AppConfig):
    name = "tasks_ui"
    verbose_name = "Browser Use tasks"
