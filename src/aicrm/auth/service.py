"""Users: create, list, change, authenticate, and turn tokens or sessions back into a principal."""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from aicrm.auth.models import ROLES, Role, User
from aicrm.auth.policy import Principal
from aicrm.auth.ratelimit import SlidingWindowLimiter
from aicrm.auth.schemas import SettingsRead, Token, UserCreate, UserUpdate
from aicrm.auth.security import create_access_token, decode_access_token, hash_password, needs_rehash, verify_password
from aicrm.core.config import DEFAULT_SECRET, Settings
from aicrm.core.db import utcnow
from aicrm.core.errors import AuthenticationFailed, ConflictError, NotFoundError, RateLimited, ValidationFailed

ROLE_DESCRIPTIONS = {
    "admin": "Manages users and settings; sees everything.",
    "manager": "Runs campaigns; sees and edits everything.",
    "analyst": "Reads everything; personal contact details are masked.",
    "agent": "Handles support; sees the customers they serve.",
}


def ensure_roles(*, session: Session) -> None:
    """Create any of the four built-in roles that are missing (the migration seeds them; a wipe may not)."""
    have = set(session.scalars(select(Role.name)))
    for name in ROLES:
        if name not in have:
            session.add(Role(name=name, description=ROLE_DESCRIPTIONS[name]))
    session.commit()


def _normal_email(email: str) -> str:
    return email.strip().lower()


def get(*, session: Session, user_id: int) -> User | None:
    """The user with ``user_id``, or None."""
    return session.get(User, user_id)


def get_or_raise(*, session: Session, user_id: int) -> User:
    """The user with ``user_id``; raises ``NotFoundError``."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"No user with id {user_id}.", hint="List users with GET /api/users or `aicrm users list`.")
    return user


def get_by_email(*, session: Session, email: str) -> User | None:
    """The user with ``email`` (case-insensitive), or None."""
    return session.scalar(select(User).where(User.email == _normal_email(email)))


def list_users(*, session: Session, limit: int = 100, offset: int = 0) -> tuple[list[User], int]:
    """Users ordered by id, and how many there are."""
    users = list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))
    return users, session.scalar(select(func.count()).select_from(User)) or 0


def create(*, session: Session, data: UserCreate) -> User:
    """Create a user with a hashed password; raises ``ConflictError`` when the e-mail is taken."""
    if data.role not in ROLES:
        raise ValidationFailed(f"Unknown role {data.role!r}.", hint=f"Use one of: {', '.join(ROLES)}.")
    email = _normal_email(str(data.email))
    if get_by_email(session=session, email=email) is not None:
        raise ConflictError(f"A user with e-mail {email} already exists.",
                            hint="Pick another e-mail, or change the existing user.")
    ensure_roles(session=session)
    user = User(email=email, full_name=data.full_name, password_hash=hash_password(data.password),
                role=data.role, is_active=True)
    session.add(user)
    session.commit()
    return user


def update(*, session: Session, user_id: int, data: UserUpdate) -> User:
    """Change a user's role, name, password or active flag; raises ``NotFoundError``."""
    user = get_or_raise(session=session, user_id=user_id)
    changes = data.model_dump(exclude_unset=True)
    loses_admin = user.role == "admin" and user.is_active and (
        changes.get("role") not in (None, "admin") or changes.get("is_active") is False)
    if loses_admin:
        admins = session.scalar(select(func.count()).select_from(User)
                                .where(User.role == "admin", User.is_active.is_(True))) or 0
        if admins <= 1:
            raise ConflictError(f"{user.email} is the last active admin; nobody could manage users afterwards.",
                                hint="Make another user an admin first.")
    if "password" in changes:
        password = changes.pop("password")
        if password is not None:
            user.password_hash = hash_password(password)
    for key, value in changes.items():
        if value is not None or key == "full_name":
            setattr(user, key, value)
    session.commit()
    return user


def authenticate(*, session: Session, email: str, password: str) -> User:
    """The active user with this e-mail and password; raises ``AuthenticationFailed`` (same message either way)."""
    user = get_by_email(session=session, email=email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        raise AuthenticationFailed("Wrong e-mail or password.",
                                   hint="Check both; an administrator can reset it with `aicrm users create`.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.commit()
    return user


def issue_token(*, user: User, settings: Settings) -> Token:
    """A bearer token for ``user`` that expires after ``settings.access_token_minutes``."""
    token, seconds = create_access_token(user_id=user.id, role=user.role, secret=settings.secret_key,
                                         minutes=settings.access_token_minutes)
    return Token(access_token=token, expires_in=seconds)


_PRINCIPAL = select(User.id, User.email, User.role, User.is_active).where(User.id == bindparam("uid"))


def principal_for(*, session: Session, user_id: int, via: str) -> Principal:
    """The principal for an authenticated user id; raises ``AuthenticationFailed`` for a gone or disabled user."""
    # The role is read from the store on every request, so a demotion or deactivation takes effect at once.
    row = session.execute(_PRINCIPAL, {"uid": user_id}).first()
    if row is None or not row.is_active:
        raise AuthenticationFailed("This account no longer exists or is disabled.",
                                   hint="Ask an administrator to re-enable it.")
    return Principal(id=row.id, email=row.email, role=row.role, via=via)


def principal_from_token(*, session: Session, token: str, settings: Settings) -> Principal:
    """The principal a bearer token stands for; raises ``AuthenticationFailed``."""
    return principal_for(session=session, user_id=decode_access_token(token, secret=settings.secret_key), via="token")


def settings_view(*, settings: Settings, engine: Engine, cookie_secure: bool) -> SettingsRead:
    """The running configuration with secrets withheld (the database URL loses its password)."""
    database = engine.url.render_as_string(hide_password=True)
    return SettingsRead(
        mode=settings.mode, database=database, secret_key_is_default=settings.secret_key == DEFAULT_SECRET,
        access_token_minutes=settings.access_token_minutes, session_max_age_seconds=settings.session_max_age_seconds,
        cookie_secure=cookie_secure, login_max_failures=settings.login_max_failures,
        login_window_seconds=settings.login_window_seconds, smtp_host=settings.smtp_host, smtp_port=settings.smtp_port,
        smtp_sender=settings.smtp_sender, log_level=settings.log_level,
    )


def authenticate_throttled(*, session: Session, limiter: SlidingWindowLimiter, email: str, password: str,
                           client: str) -> User:
    """``authenticate``, refused with ``RateLimited`` after too many recent failures for this e-mail and client."""
    key = (_normal_email(email), client)
    wait = limiter.retry_after(key)
    if wait is not None:
        exc = RateLimited(f"Too many failed sign-ins for {key[0]} from {client}.",
                          hint=f"Wait {int(wait) + 1} seconds before trying again.",
                          details=[{"retry_after_seconds": int(wait) + 1}])
        exc.retry_after = int(wait) + 1
        raise exc
    try:
        user = authenticate(session=session, email=email, password=password)
    except AuthenticationFailed:
        limiter.hit(key)
        raise
    limiter.reset(key)
    return user
