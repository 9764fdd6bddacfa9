from django.urls import path

from . import views

app_name = "tasks_ui"

urlpatterns = [
    path("", views.history, name="history"),
    path("tasks/new/", views.compose, name="compose"),
    path("tasks/preview/", views.compose_preview, name="compose-preview"),
    path("runs/<uuid:run_id>/", views.run_detail, name="run-detail"),
    path("runs/<uuid:run_id>/stop/", views.run_stop, name="run-stop"),
    path("runs/<uuid:run_id>/logs/", views.run_logs, name="run-logs"),
    path("runs/<uuid:run_id>/files/<uuid:file_id>/", views.run_output_file, name="run-output-file"),
]
