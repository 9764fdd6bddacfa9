from django.urls import path

from .views import runs, teams

app_name = "tasks_ui"

urlpatterns = [
    path("", runs.history, name="history"),
    path("tasks/new/", runs.compose, name="compose"),
    path("tasks/preview/", runs.compose_preview, name="compose-preview"),
    path("runs/<uuid:run_id>/", runs.run_detail, name="run-detail"),
    path("runs/<uuid:run_id>/stop/", runs.run_stop, name="run-stop"),
    path("runs/<uuid:run_id>/logs/", runs.run_logs, name="run-logs"),
    path("runs/<uuid:run_id>/files/<uuid:file_id>/", runs.run_output_file, name="run-output-file"),
    path("team/", teams.team_settings, name="team"),
    path("team/name/", teams.team_rename, name="team-rename"),
    path("team/key/", teams.team_key, name="team-key"),
    path("team/key/remove/", teams.team_key_remove, name="team-key-remove"),
    path("team/invitations/", teams.invitation_create, name="invitation-create"),
    path("team/invitations/<int:invitation_id>/revoke/", teams.invitation_revoke, name="invitation-revoke"),
    path("team/members/<int:membership_id>/role/", teams.member_role, name="member-role"),
    path("team/members/<int:membership_id>/remove/", teams.member_remove, name="member-remove"),
    path("team/audit/", teams.audit_log, name="audit"),
    path("teams/new/", teams.team_create, name="team-new"),
    path("teams/switch/", teams.team_switch, name="team-switch"),
    path("invitations/<str:token>/", teams.invitation, name="invitation"),
]
