"""Password hashing (argon2), access tokens (JWT) and CSRF tokens."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from aicrm.core.errors import AuthenticationFailed

_hasher = PasswordHasher()
# Verified when the user does not exist, so that a wrong e-mail costs as long as a wrong password
# (otherwise response time tells an attacker which accounts exist).
_DUMMY_HASH = _hasher.hash("no such user: constant-time padding")
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``password_hash`` (always spends the time of one verification)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def create_access_token(*, user_id: int, role: str, secret: str, minutes: int) -> tuple[str, int]:
    """A signed bearer token for ``user_id`` and its lifetime in seconds."""
    now = dt.datetime.now(dt.UTC)
    payload = {"sub": str(user_id), "role": role, "iat": now, "exp": now + dt.timedelta(minutes=minutes)}
    return jwt.encode(payload, secret, algorithm=ALGORITHM), minutes * 60


def decode_access_token(token: str, *, secret: str) -> int:
    """The user id a valid, unexpired token was issued to; raises ``AuthenticationFailed`` otherwise."""
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        return int(payload["sub"])
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("The access token has expired.",
                                   hint="Get a new one from POST /api/auth/token.") from None
    except (jwt.InvalidTokenError, ValueError):
        raise AuthenticationFailed("The access token is not valid.",
                                   hint="Get a new one from POST /api/auth/token.") from None


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a form or header sent."""
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
