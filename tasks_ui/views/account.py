"""The account panel, the compose form's session-usage line, and the profile and skill pickers."""

import re

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tasks_ui.models import Membership
from tasks_ui.selectors.sessions import parse_uuid
from tasks_ui.services import account as services
from tasks_ui.services.teams import membership_for_user, team_uses_sandbox

# The picker fills the form input with this id; only plain ids are accepted, as it is written into the page.
_INPUT_ID = re.compile(r"^[A-Za-z][\w-]{0,60}$")


def _launcher(request) -> Membership:
    # The usage line and the pickers belong to the compose and new-session forms, which viewers cannot use.
    membership = membership_for_user(user=request.user)
    if not membership.can_launch:
        raise PermissionDenied("Viewers cannot launch tasks or create sessions.")
    return membership


@require_GET
def account(request):
    """Check the team's key with `GET /billing/account` and show the project, balances, plan and sessions."""
    membership = membership_for_user(user=request.user)
    team = membership.team
    context = {
        "membership": membership,
        "team": team,
        "uses_sandbox": team_uses_sandbox(team),
        "account": None,
        "error": "",
        "key_rejected": False,
    }
    try:
        context["account"] = services.account_get(team=team)
    except services.AccountUnavailable as failure:
        context.update(error=failure.message, key_rejected=failure.key_rejected)
    return render(request, "tasks_ui/account.html", context)


@require_GET
def account_usage(request):
    """Render the "N of M sessions busy" line of the compose form, with a warning when no session is free."""
    membership = _launcher(request)
    try:
        usage, error = services.session_usage(team=membership.team), ""
    except services.AccountUnavailable as failure:
        usage, error = None, failure.message
    return render(request, "tasks_ui/account.html#usage", {"usage": usage, "error": error})


def _target(request) -> str:
    target = request.GET.get("target", "")
    return target if _INPUT_ID.match(target) else "id_profile_id"


@require_GET
def profile_picker(request):
    """Render the profiles that match the search box, as a radio list that fills the profile ID field."""
    membership = _launcher(request)
    query = request.GET.get("profile_q", "")
    result = services.profiles_search(team=membership.team, query=query)
    selected = parse_uuid(request.GET.get("profile_id"))
    context = {
        "result": result,
        "query": query,
        "selected": str(selected) if selected else "",
        "target": _target(request),
    }
    return render(request, "tasks_ui/pickers.html#profile-results", context)


@require_GET
def skill_picker(request):
    """Render the skills that match the search box, as checkboxes that add their ids to the skill IDs field."""
    membership = _launcher(request)
    query = request.GET.get("skill_q", "")
    include_unusable = request.GET.get("skill_all") == "1"
    chosen = [str(value) for value in map(parse_uuid, re.split(r"[\s,]+", request.GET.get("skill_ids", ""))) if value]
    result = services.skills_search(team=membership.team, query=query, include_unusable=include_unusable, chosen=chosen)
    context = {"result": result, "query": query, "chosen": set(chosen), "include_unusable": include_unusable}
    return render(request, "tasks_ui/pickers.html#skill-results", context)
