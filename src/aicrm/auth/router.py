"""``/api/auth`` (tokens), ``/api/users`` (administration) and ``/api/settings``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from starlette import status

from aicrm.auth import service
from aicrm.auth.deps import CurrentUser, SessionDep, SettingsAdmin, UserAdmin
from aicrm.auth.schemas import SettingsRead, Token, UserCreate, UserPage, UserRead, UserUpdate

router = APIRouter(prefix="/api")


@router.post("/auth/token", response_model=Token, tags=["auth"])
def issue_token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep) -> Token:
    """Exchange an e-mail (``username``) and password for a bearer token (OAuth2 password flow)."""
    user = service.authenticate_throttled(session=session, limiter=request.app.state.login_limiter,
                                          email=form.username, password=form.password,
                                          client=request.client.host if request.client else "unknown")
    return service.issue_token(user=user, settings=request.app.state.settings)


@router.get("/auth/me", response_model=UserRead, tags=["auth"])
def who_am_i(session: SessionDep, user: CurrentUser) -> UserRead:
    """The signed-in user."""
    return UserRead.model_validate(service.get_or_raise(session=session, user_id=user.id))


@router.get("/users", response_model=UserPage, tags=["users"])
def list_users(session: SessionDep, _: UserAdmin, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> UserPage:
    """Every user of the dashboard and API (admins only)."""
    users, total = service.list_users(session=session, limit=limit, offset=offset)
    return UserPage(items=[UserRead.model_validate(u) for u in users], total=total)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED, tags=["users"])
def create_user(session: SessionDep, _: UserAdmin, data: UserCreate) -> UserRead:
    """Create a user (admins only)."""
    return UserRead.model_validate(service.create(session=session, data=data))


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"])
def get_user(session: SessionDep, _: UserAdmin, user_id: int) -> UserRead:
    """One user (admins only)."""
    return UserRead.model_validate(service.get_or_raise(session=session, user_id=user_id))


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
def update_user(session: SessionDep, _: UserAdmin, user_id: int, data: UserUpdate) -> UserRead:
    """Change a user's role, name, password or active flag (admins only)."""
    return UserRead.model_validate(service.update(session=session, user_id=user_id, data=data))


@router.get("/settings", response_model=SettingsRead, tags=["settings"])
def read_settings(request: Request, _: SettingsAdmin) -> SettingsRead:
    """The running configuration, secrets withheld (admins only). Settings are changed through AICRM_* variables."""
    state = request.app.state
    return service.settings_view(settings=state.settings, engine=state.engine, cookie_secure=state.cookie_secure)
