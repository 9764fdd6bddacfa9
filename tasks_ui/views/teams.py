"""Team pages: settings and key, members, invitations, the audit log, creating and switching teams."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tasks_ui import client as api
from tasks_ui.forms_teams import ApiKeyForm, InvitationForm, MemberRoleForm, TeamNameForm
from tasks_ui.models import AuditEvent, Invitation, Membership
from tasks_ui.services import teams as services
from tasks_ui.services.teams import membership_for_user

AUDIT_PAGE_SIZE = 50


def _manager(request) -> Membership:
    membership = membership_for_user(user=request.user)
    if not membership.can_manage:
        raise PermissionDenied("Only the team's owners and admins can do this.")
    return membership


def _owner(request) -> Membership:
    membership = membership_for_user(user=request.user)
    if not membership.is_owner:
        raise PermissionDenied("Only the team's owners can do this.")
    return membership


def _settings_context(request, membership: Membership, **forms) -> dict:
    team = membership.team
    context = {
        "membership": membership,
        "team": team,
        "members": team.memberships.select_related("user").order_by("user__username"),
        "name_form": forms.get("name_form") or TeamNameForm(initial={"name": team.name}),
        "key_form": forms.get("key_form") or ApiKeyForm(initial={"base_url": team.base_url}),
        "invitation_form": forms.get("invitation_form") or InvitationForm(),
        "role_choices": Membership.ROLES,
        "uses_sandbox": services.team_uses_sandbox(team),
        "new_invitation_url": forms.get("new_invitation_url"),
    }
    if membership.can_manage:
        context["invitations"] = Invitation.objects.filter(team=team, used_at__isnull=True, revoked_at__isnull=True).select_related("created_by")
        context["audit_events"] = AuditEvent.objects.filter(team=team).select_related("actor")[:10]
    return context


@require_GET
def team_settings(request):
    membership = membership_for_user(user=request.user)
    return render(request, "tasks_ui/team.html", _settings_context(request, membership))


@require_POST
def team_rename(request):
    membership = _manager(request)
    form = TeamNameForm(request.POST)
    if not form.is_valid():
        return render(request, "tasks_ui/team.html", _settings_context(request, membership, name_form=form), status=400)
    services.team_rename(team=membership.team, actor=request.user, name=form.cleaned_data["name"])
    messages.success(request, "The team was renamed.")
    return redirect("tasks_ui:team")


@require_POST
def team_key(request):
    membership = _owner(request)
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            account = services.team_set_api_key(
                team=membership.team, actor=request.user, api_key=form.cleaned_data["api_key"],
                base_url=form.cleaned_data["base_url"],
            )
        except api.ApiError as error:
            form.add_error("api_key", f"The key could not be checked with the API: {error.message}")
        else:
            project = account.get("name") or account.get("projectId") or "the project"
            messages.success(request, f"The key works for {project} and was saved, encrypted.")
            return redirect("tasks_ui:team")
    return render(request, "tasks_ui/team.html", _settings_context(request, membership, key_form=form), status=400)


@require_POST
def team_key_remove(request):
    membership = _owner(request)
    services.team_clear_api_key(team=membership.team, actor=request.user)
    messages.success(request, "The team's key was removed; tasks now use the deployment's key or the sandbox.")
    return redirect("tasks_ui:team")


@require_POST
def invitation_create(request):
    membership = _manager(request)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return render(request, "tasks_ui/team.html", _settings_context(request, membership, invitation_form=form), status=400)
    try:
        token = services.invitation_create(team=membership.team, actor=request.user, role=form.cleaned_data["role"])
    except services.TeamError as error:
        form.add_error("role", error.message)
        return render(request, "tasks_ui/team.html", _settings_context(request, membership, invitation_form=form), status=400)
    url = request.build_absolute_uri(reverse("tasks_ui:invitation", args=[token]))
    context = _settings_context(request, membership, new_invitation_url=url)
    return render(request, "tasks_ui/team.html", context)


@require_POST
def invitation_revoke(request, invitation_id: int):
    membership = _manager(request)
    get_object_or_404(Invitation, team=membership.team, pk=invitation_id)
    try:
        services.invitation_revoke(team=membership.team, actor=request.user, invitation_id=invitation_id)
    except services.TeamError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The invitation was revoked; its link no longer works.")
    return redirect("tasks_ui:team")


@require_POST
def member_role(request, membership_id: int):
    membership = _manager(request)
    get_object_or_404(Membership, team=membership.team, pk=membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles owner, admin, member or viewer.")
        return redirect("tasks_ui:team")
    try:
        changed = services.member_change_role(
            team=membership.team, actor=request.user, membership_id=membership_id, role=form.cleaned_data["role"]
        )
    except services.TeamError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{changed.user.get_username()} is now {changed.get_role_display().lower()}.")
    return redirect("tasks_ui:team")


@require_POST
def member_remove(request, membership_id: int):
    membership = _manager(request)
    get_object_or_404(Membership, team=membership.team, pk=membership_id)
    try:
        services.member_remove(team=membership.team, actor=request.user, membership_id=membership_id)
    except services.TeamError as error:
        messages.error(request, error.message)
        return redirect("tasks_ui:team")
    if membership.pk == membership_id:
        messages.success(request, "You left the team.")
        return redirect("tasks_ui:history")
    messages.success(request, "The member was removed; they lose access on their next request.")
    return redirect("tasks_ui:team")


@require_GET
def audit_log(request):
    membership = _manager(request)
    events = AuditEvent.objects.filter(team=membership.team).select_related("actor")
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks_ui/audit.html", {"membership": membership, "page": page})


@require_http_methods(["GET", "POST"])
def team_create(request):
    membership = membership_for_user(user=request.user)
    form = TeamNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.team_create(user=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Created the team {form.cleaned_data['name']}; you are its owner.")
        return redirect("tasks_ui:team")
    return render(request, "tasks_ui/team_new.html", {"form": form, "membership": membership})


@require_POST
def team_switch(request):
    try:
        membership = services.team_switch(user=request.user, team_id=int(request.POST.get("team", "0")))
    except (services.TeamError, ValueError):
        messages.error(request, "You are not a member of that team.")
    else:
        messages.success(request, f"Switched to {membership.team.name}.")
    return redirect("tasks_ui:history")


@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    open_invitation = services.invitation_for_token(token)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except services.TeamError as error:
            messages.error(request, error.message)
            return redirect("tasks_ui:history")
        messages.success(request, f"You joined {membership.team.name} as {membership.get_role_display().lower()}.")
        return redirect("tasks_ui:history")
    context = {"invitation": open_invitation, "membership": membership_for_user(user=request.user)}
    return render(request, "tasks_ui/invitation.html", context, status=200 if open_invitation else 404)
