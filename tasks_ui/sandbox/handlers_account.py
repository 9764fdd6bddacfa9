"""Handlers for the project's read-only resources: browser profiles, skills and the billing account.

Each handler takes (origin, query, body, **path ids) with the inputs already validated, and returns
(status, JSON body). See `api.ROUTES` for which models they receive.
"""

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db.models import Sum

from . import catalog, serializers, simulation
from .models import SandboxTask
from .schemas import ProfileListQuery, SkillListQuery
from .validation import HttpError, as_utc


def _page(records: list[dict], query) -> dict:
    page, total = serializers.page_of(records, page_size=query.pageSize, page_number=query.pageNumber)
    return serializers.paged(page, page_size=query.pageSize, page_number=query.pageNumber, total=total)


def list_profiles(origin, query: ProfileListQuery, body):
    # The API searches the name and the userId.
    needle = (query.query or "").lower()
    found = [
        profile
        for profile in catalog.PROFILES
        if needle in (profile["name"] or "").lower() or needle in (profile["userId"] or "").lower()
    ]
    return 200, _page(found, query)


def get_profile(origin, query, body, profile_id: UUID):
    profile = next((p for p in catalog.PROFILES if p["id"] == str(profile_id)), None)
    if profile is None:
        raise HttpError(404, "Profile not found")
    return 200, profile


def list_skills(origin, query: SkillListQuery, body):
    needle = (query.query or "").lower()
    found = []
    for skill in catalog.SKILLS:
        if query.isPublic is not None and skill["isPublic"] != query.isPublic:
            continue
        if query.isEnabled is not None and skill["isEnabled"] != query.isEnabled:
            continue
        if query.category is not None and query.category not in skill["categories"]:
            continue
        if needle and needle not in skill["title"].lower() and needle not in skill["description"].lower():
            continue
        created = datetime.fromisoformat(skill["createdAt"])
        if query.fromDate is not None and created < as_utc(query.fromDate):
            continue
        if query.toDate is not None and created > as_utc(query.toDate):
            continue
        found.append(skill)
    return 200, _page(found, query)


def get_skill(origin, query, body, skill_id: UUID):
    skill = next((s for s in catalog.SKILLS if s["id"] == str(skill_id)), None)
    if skill is None:
        raise HttpError(404, "Skill not found")
    return 200, skill


def get_account(origin, query, body):
    # Simulated tasks spend the project's credits: the monthly grant first, then the top-up.
    spent = float(SandboxTask.objects.aggregate(total=Sum("cost"))["total"] or Decimal(0))
    monthly = max(catalog.MONTHLY_CREDITS_USD - spent, 0.0)
    additional = max(catalog.ADDITIONAL_CREDITS_USD - max(spent - catalog.MONTHLY_CREDITS_USD, 0.0), 0.0)
    limit = settings.SANDBOX_CONCURRENT_SESSION_LIMIT
    return 200, {
        "name": "Sandbox project",
        "totalCreditsBalanceUsd": round(monthly + additional, 6),
        "monthlyCreditsBalanceUsd": round(monthly, 6),
        "additionalCreditsBalanceUsd": round(additional, 6),
        "rateLimit": limit,
        "concurrentSessionLimit": limit,
        "activeSessionCount": simulation.active_session_count(),
        # SDK 3.12.1 requires planInfo, although the docs say pay-as-you-go projects may send null.
        "planInfo": {
            "planName": "Sandbox",
            "subscriptionStatus": "active",
            "subscriptionId": None,
            "subscriptionCurrentPeriodEnd": None,
            "subscriptionCanceledAt": None,
        },
        "isFreeTier": False,
        "projectId": catalog.PROJECT_ID,
        "apiKeyId": catalog.API_KEY_ID,
        "tracingDisabled": False,
    }
