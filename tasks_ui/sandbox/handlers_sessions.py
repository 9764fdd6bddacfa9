"""Handlers for /sessions: create, list, read, stop, delete and the public share of a session.

Each handler takes (origin, query, body, **path ids) with the inputs already validated, and returns
(status, JSON body). See `api.ROUTES` for which models they receive.
"""

import secrets
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import serializers, simulation
from .catalog import PROFILES
from .models import SandboxSession
from .schemas import CreateSessionRequest, SessionListQuery
from .validation import HttpError

CAPACITY_MESSAGE = "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan."
PROFILE_IDS = {profile["id"] for profile in PROFILES}


def check_capacity() -> None:
    """Raise the API's capacity 429 when no new session may start under SANDBOX_CONCURRENT_SESSION_LIMIT."""
    if simulation.active_session_count() >= settings.SANDBOX_CONCURRENT_SESSION_LIMIT:
        raise HttpError(429, CAPACITY_MESSAGE)


def check_profile(profile_id: UUID | None) -> None:
    if profile_id is not None and str(profile_id) not in PROFILE_IDS:
        raise HttpError(404, "Profile not found")


def get_session_or_404(session_id: UUID, *, for_update: bool = False) -> SandboxSession:
    sessions = SandboxSession.objects.select_for_update() if for_update else SandboxSession.objects
    session = sessions.filter(pk=session_id).first()
    if session is None:
        raise HttpError(404, "Session not found")
    simulation.advance_session(session)
    return session


def create_session(origin, query, body: CreateSessionRequest):
    data = body.model_dump(mode="json", exclude_unset=True)
    if data.get("customProxy"):
        # Like task secrets, the proxy password is never stored or echoed.
        data["customProxy"].pop("password", None)
    check_profile(body.profileId)
    with transaction.atomic():
        check_capacity()
        session = SandboxSession.objects.create(
            keep_alive=body.keepAlive,
            persist_memory=body.persistMemory,
            settings=simulation.storable({"proxyCountryCode": "us", **data}),
            started_at=timezone.now(),
        )
    return 201, serializers.session_item(session, origin)


def list_sessions(origin, query: SessionListQuery, body):
    simulation.active_session_count()
    sessions = SandboxSession.objects.all()
    if query.filterBy:
        sessions = sessions.filter(status=query.filterBy)
    page, total = serializers.page_of(
        sessions.order_by("-started_at"), page_size=query.pageSize, page_number=query.pageNumber
    )
    items = [serializers.session_item(session, origin) for session in page]
    return 200, serializers.paged(items, page_size=query.pageSize, page_number=query.pageNumber, total=total)


def get_session(origin, query, body, session_id: UUID):
    return 200, serializers.session_view(get_session_or_404(session_id), origin)


def update_session(origin, query, body, session_id: UUID):
    # The only action is "stop", which also stops the session's running task.
    session = get_session_or_404(session_id)
    simulation.stop_session(session)
    return 200, serializers.session_view(session, origin)


def delete_session(origin, query, body, session_id: UUID):
    get_session_or_404(session_id).delete()
    return 204, None


def get_public_share(origin, query, body, session_id: UUID):
    session = get_session_or_404(session_id)
    if not session.share_token:
        raise HttpError(404, "Public share not found")
    return 200, serializers.share_view(session, origin)


def create_public_share(origin, query, body, session_id: UUID):
    # Creating a share that exists returns it unchanged, as the API documents.
    with transaction.atomic():
        session = get_session_or_404(session_id, for_update=True)
        if not session.share_token:
            session.share_token = secrets.token_urlsafe(18)
            session.save(update_fields=["share_token"])
    return 201, serializers.share_view(session, origin)


def delete_public_share(origin, query, body, session_id: UUID):
    session = get_session_or_404(session_id)
    if not session.share_token:
        raise HttpError(404, "Public share not found")
    session.share_token = ""
    session.share_view_count = 0
    session.share_last_viewed_at = None
    session.save(update_fields=["share_token", "share_view_count", "share_last_viewed_at"])
    return 204, None
