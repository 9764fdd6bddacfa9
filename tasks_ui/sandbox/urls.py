from django.urls import path, re_path

from . import views

app_name = "sandbox"

urlpatterns = [
    # Any rest of the path, even empty or with a newline, goes to the API, so an unknown route gets its JSON 404.
    re_path(r"^api/v2/(?P<path>[\s\S]*)\Z", views.api_endpoint, name="api"),
    path("faults/", views.faults_page, name="faults"),
    path("faults/clear/", views.faults_clear, name="faults-clear"),
    path("faults/api/", views.faults_endpoint, name="faults-api"),
    path("files/tasks/<uuid:task_id>/steps/<int:number>.png", views.step_screenshot, name="step-screenshot"),
    path("files/download/<str:token>/<str:name>", views.signed_download, name="download"),
    path("live/<uuid:session_id>/", views.live_view, name="live"),
    path("share/<str:token>/", views.public_share, name="share"),
]
