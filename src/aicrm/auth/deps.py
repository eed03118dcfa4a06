"""FastAPI dependencies as ``Annotated`` aliases: ``SessionDep``, ``CurrentUser`` and permission checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from aicrm.auth import service
from aicrm.auth.policy import Principal, roles_for
from aicrm.auth.security import csrf_matches
from aicrm.core.errors import AuthenticationFailed, PermissionDenied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """One store session per request, closed afterwards (services commit their own writes)."""
    session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def csrf_token_sent(request: Request) -> str | None:
    """The CSRF token a request carries: the ``X-CSRF-Token`` header (HTMX, fetch) or a form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches the parsed form, so handlers can read it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match the session's."""
    if request.method in SAFE_METHODS:
        return
    if not csrf_matches(request.session.get("csrf"), await csrf_token_sent(request)):
        raise PermissionDenied("The form is out of date or was not sent by this site (CSRF token mismatch).",
                               hint="Reload the page and try again.")


async def get_current_user(request: Request, session: SessionDep,
                           token: Annotated[str | None, Depends(bearer_scheme)]) -> Principal:
    """The signed-in user: from a bearer token (API) or the signed session cookie (dashboard)."""
    settings = request.app.state.settings
    if token:
        user = await run_in_threadpool(service.principal_from_token, session=session, token=token, settings=settings)
        request.state.user = user
        return user
    user_id = request.session.get("uid") if "session" in request.scope else None
    if user_id is None:
        raise AuthenticationFailed("Sign in first.",
                                   hint="Get a bearer token from POST /api/auth/token, or sign in at /login.")
    # A cookie is sent by the browser on any cross-site form post; only a bearer token proves intent by itself.
    await check_csrf(request)
    user = await run_in_threadpool(service.principal_for, session=session, user_id=int(user_id), via="session")
    request.state.user = user  # lets error pages show the navigation of the signed-in user
    return user


CurrentUser = Annotated[Principal, Depends(get_current_user)]


class Allow:
    """Dependency that admits only the roles holding ``permission`` (403 for the others, 401 when anonymous)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission
        self.roles = roles_for(permission)

    async def __call__(self, user: CurrentUser) -> Principal:
        if user.role not in self.roles:
            raise PermissionDenied(f"The {user.role} role may not do this ({self.permission}).",
                                   hint=f"Allowed roles: {', '.join(sorted(self.roles))}.")
        return user

    def __repr__(self) -> str:
        return f"Allow({self.permission!r})"


def allow(permission: str):
    """``Annotated[Principal, ...]`` for a handler parameter that requires ``permission``."""
    return Annotated[Principal, Depends(Allow(permission))]


# The aliases routers use; each names the permission it checks (see ``aicrm.auth.policy.PERMISSIONS``).
CustomerReader = allow("customers:read")
CustomerWriter = allow("customers:write")
NoteWriter = allow("notes:write")
OrderReader = allow("orders:read")
ProductReader = allow("products:read")
FeedbackReader = allow("feedback:read")
SupportReader = allow("support:read")
SupportWriter = allow("support:write")
AnalyticsReader = allow("analytics:read")
CampaignRunner = allow("campaigns:run")
UserAdmin = allow("users:manage")
SettingsAdmin = allow("settings:manage")
