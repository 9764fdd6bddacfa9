from django.urls import path

from . import views

app_name = "sandbox"

urlpatterns = [
    path("api/v2/<path:path>", views.api_endpoint, name="api"),
    path("files/tasks/<uuid:task_id>/steps/<int:number>.png", views.step_screenshot, name="step-screenshot"),
    path("files/download/<str:token>/<str:name>", views.signed_download, name="download"),
    path("live/<uuid:session_id>/", views.live_view, name="live"),
]
