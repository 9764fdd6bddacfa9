from django.urls import path

from .views import runs

app_name = "tasks_ui"

urlpatterns = [
    path("", runs.history, name="history"),
    path("tasks/new/", runs.compose, name="compose"),
    path("tasks/preview/", runs.compose_preview, name="compose-preview"),
    path("runs/<uuid:run_id>/", runs.run_detail, name="run-detail"),
    path("runs/<uuid:run_id>/stop/", runs.run_stop, name="run-stop"),
    path("runs/<uuid:run_id>/logs/", runs.run_logs, name="run-logs"),
    path("runs/<uuid:run_id>/files/<uuid:file_id>/", runs.run_output_file, name="run-output-file"),
]
