"""Reads of the project behind the team's API key: its account, browser profiles and skills.

Each function reads the API through the team's client and returns plain data for the pages and the
compose form's pickers.
"""

import logging
from dataclasses import dataclass, field

from tasks_ui import client as api
from tasks_ui.models import Team
from tasks_ui.services.teams import client_for_team

logger = logging.getLogger(__name__)

PROFILE_PAGE_SIZE = 20
SKILL_PAGE_SIZE = 50
# Chosen skills missing from a search result are read one by one, up to this many.
MAX_CHOSEN_SKILL_LOOKUPS = 10
# The API's limits on the search text of GET /profiles and GET /skills.
PROFILE_QUERY_MAX = 200
SKILL_QUERY_MAX = 100


class AccountUnavailable(Exception):
    """The account could not be read. `key_rejected` is True when the API refused the key itself."""

    def __init__(self, message: str, *, key_rejected: bool = False):
        super().__init__(message)
        self.message = message
        self.key_rejected = key_rejected


def account_get(*, team: Team, api_client=None) -> dict:
    """Read `GET /billing/account`, which also checks the key. `planInfo` may be null for pay-as-you-go projects."""
    try:
        account = (api_client or client_for_team(team)).get_account()
    except api.ApiError as error:
        logger.warning("Reading the account of team %s failed: %s, status %s", team.pk, type(error).__name__, error.status_code)
        raise AccountUnavailable(error.message, key_rejected=isinstance(error, api.ApiAuthError)) from error
    return account


@dataclass
class SessionUsage:
    active: int
    limit: int

    @property
    def full(self) -> bool:
        return self.limit > 0 and self.active >= self.limit

    @property
    def free(self) -> int:
        return max(self.limit - self.active, 0)


def session_usage(*, team: Team, api_client=None) -> SessionUsage:
    """Return how many of the project's concurrent sessions are busy. Raises AccountUnavailable."""
    account = account_get(team=team, api_client=api_client)
    limit = account.get("concurrentSessionLimit")
    if limit is None:
        # Older responses contain only rateLimit, which is the same limit under its former name.
        limit = account.get("rateLimit")
    return SessionUsage(active=int(account.get("activeSessionCount") or 0), limit=int(limit or 0))


@dataclass
class SearchResult:
    items: list[dict] = field(default_factory=list)
    # True when the API has more matches than one page holds, so the search should be narrowed.
    more: bool = False
    error: str = ""


def profiles_search(*, team: Team, query: str = "", api_client=None) -> SearchResult:
    """Return the first profiles whose name or user id contains `query`. API errors end up in `error`."""
    params = {"pageSize": PROFILE_PAGE_SIZE, "pageNumber": 1, "query": query.strip()[:PROFILE_QUERY_MAX] or None}
    try:
        listing = (api_client or client_for_team(team)).list_profiles(**params)
    except api.ApiError as error:
        logger.warning("Listing profiles failed: %s, status %s", type(error).__name__, error.status_code)
        return SearchResult(error=f"The profiles could not be listed: {error.message}")
    return SearchResult(items=listing.get("items") or [], more=(listing.get("totalItems") or 0) > PROFILE_PAGE_SIZE)


def profile_get(*, team: Team, profile_id, api_client=None) -> dict | None:
    """Return the profile, or None when it does not exist or cannot be read (it is only used as a label)."""
    try:
        return (api_client or client_for_team(team)).get_profile(str(profile_id))
    except api.ApiError as error:
        logger.info("Reading profile %s failed: %s", profile_id, type(error).__name__)
        return None


def skill_is_usable(skill: dict) -> bool:
    """Tell whether a task can use the skill: its generation finished and it is enabled."""
    return skill.get("status") == "finished" and bool(skill.get("isEnabled"))


def skills_search(
    *, team: Team, query: str = "", include_unusable: bool = False, chosen: list[str] = (), api_client=None
) -> SearchResult:
    """Return skills matching `query`: by default only the finished, enabled ones a task can use.

    Chosen skills that the search does not return are read one by one and listed first, so that a
    search never hides a choice already made.
    """
    client = api_client or client_for_team(team)
    params = {
        "pageSize": SKILL_PAGE_SIZE,
        "pageNumber": 1,
        "query": query.strip()[:SKILL_QUERY_MAX] or None,
        "isEnabled": None if include_unusable else True,
    }
    try:
        listing = client.list_skills(**params)
    except api.ApiError as error:
        logger.warning("Listing skills failed: %s, status %s", type(error).__name__, error.status_code)
        return SearchResult(error=f"The skills could not be listed: {error.message}")

    # GET /skills cannot filter by status, so unfinished skills are dropped here.
    items = [skill for skill in listing.get("items") or [] if include_unusable or skill_is_usable(skill)]
    listed = {str(skill.get("id")) for skill in items}
    missing = [skill_id for skill_id in chosen if skill_id not in listed][:MAX_CHOSEN_SKILL_LOOKUPS]
    extra = []
    for skill_id in missing:
        try:
            extra.append(client.get_skill(skill_id))
        except api.ApiError as error:
            logger.info("Reading chosen skill %s failed: %s", skill_id, type(error).__name__)
            extra.append({"id": skill_id, "title": "", "description": "", "parameters": [], "missing": True})
    return SearchResult(items=extra + items, more=(listing.get("totalItems") or 0) > SKILL_PAGE_SIZE)
