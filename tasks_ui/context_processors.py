from django.utils.functional import SimpleLazyObject

from .services.teams import membership_for_user, team_uses_sandbox


def api_mode(request):
    """Give every page the current team (for the header and its switcher) and whether tasks are simulated."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"sandbox_mode": team_uses_sandbox_default()}

    current = SimpleLazyObject(lambda: membership_for_user(user=user))
    return {
        "current_membership": current,
        "all_memberships": SimpleLazyObject(lambda: list(user.memberships.select_related("team").order_by("team__name"))),
        "sandbox_mode": SimpleLazyObject(lambda: team_uses_sandbox(current.team)),
    }


def team_uses_sandbox_default() -> bool:
    from .client import sandbox_mode

    return sandbox_mode()
