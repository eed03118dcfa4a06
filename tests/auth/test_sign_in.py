"""Signing in: bearer tokens with expiry, throttled failures, session cookies, CSRF, sign-out, disabled users."""

from __future__ import annotations

import re

import httpx
import pytest

from aicrm.auth.security import create_access_token
from tests.web.live import PASSWORD, ROLE_USERS, ServerThread, live  # noqa: F401


def _error(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details", "hint"}
    return body["error"]


def test_sign_in__token_round_trip(live):
    bad = httpx.post(f"{live.url}/api/auth/token", data={"username": ROLE_USERS["manager"], "password": "wrong!!!"})
    assert bad.status_code == 401 and _error(bad)["code"] == "unauthorized"
    assert bad.headers["www-authenticate"] == "Bearer"
    ok = httpx.post(f"{live.url}/api/auth/token", data={"username": ROLE_USERS["manager"].upper(), "password": PASSWORD})
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 8 * 3600
    me = httpx.get(f"{live.url}/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["email"] == ROLE_USERS["manager"] and me.json()["role"] == "manager"
    assert me.json()["last_login_at"] is not None


def test_sign_in__expired_and_forged_tokens_are_refused(live):
    secret = live.app.state.settings.secret_key
    uid = live.ids["users"]["admin"]
    expired, _ = create_access_token(user_id=uid, role="admin", secret=secret, minutes=-1)
    r = httpx.get(f"{live.url}/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in _error(r)["message"]
    forged, _ = create_access_token(user_id=uid, role="admin", secret="not-the-server-secret-but-long-enough", minutes=5)
    r = httpx.get(f"{live.url}/api/customers", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "not valid" in _error(r)["message"]


@pytest.fixture
def strict_server(live):
    """A second server over the same store that allows only two failed sign-ins per window."""
    from aicrm.core.config import Settings
    from aicrm.web.app import create_app

    server = ServerThread(create_app(live.engine, settings=Settings(login_max_failures=2))).start()
    yield server.url
    server.stop()


def test_sign_in__failures_are_rate_limited_per_user(live, strict_server):
    admin = live.client("admin")
    r = admin.post("/api/users", json={"email": "victim@example.com", "password": "victim-password", "role": "agent"})
    assert r.status_code == 201
    token_url = f"{strict_server}/api/auth/token"
    for _ in range(2):
        assert httpx.post(token_url, data={"username": "victim@example.com", "password": "guess"}).status_code == 401
    # Now even the right password is refused, with a uniform 429 body and Retry-After.
    r = httpx.post(token_url, data={"username": "victim@example.com", "password": "victim-password"})
    assert r.status_code == 429
    err = _error(r)
    assert err["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0
    assert err["details"][0]["retry_after_seconds"] == int(r.headers["retry-after"])
    # ...and the login form says so too, while other users are unaffected.
    page = httpx.Client(base_url=strict_server)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text).group(1)
    form = page.post("/login", data={"email": "victim@example.com", "password": "victim-password", "csrf_token": csrf})
    assert form.status_code == 429 and "Too many failed sign-ins" in form.text
    assert httpx.post(token_url, data={"username": ROLE_USERS["analyst"], "password": PASSWORD}).status_code == 200


def test_sign_in__session_cookie_csrf_and_sign_out(live):
    client = httpx.Client(base_url=live.url, headers={"Accept": "text/html"})
    form = client.get("/login?next=//evil.example/steal")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert 'value="/"' in form.text  # the off-site "next" was dropped
    no_csrf = client.post("/login", data={"email": ROLE_USERS["agent"], "password": PASSWORD})
    assert no_csrf.status_code == 400 and "expired" in no_csrf.text
    r = client.post("/login", data={"email": ROLE_USERS["agent"], "password": PASSWORD, "csrf_token": csrf,
                                    "next": "//evil.example/steal"})
    assert r.status_code == 303 and r.headers["location"] == "/customers"
    cookie = r.headers["set-cookie"].lower()
    assert "aicrm_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # local mode over http; production sets Secure (AICRM_MODE / AICRM_COOKIE_SECURE)
    page = client.get("/customers")
    assert page.status_code == 200
    new_csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
    assert new_csrf != csrf  # rotated at sign-in
    note_url = f"/api/customers/{live.cid('C001')}/notes"
    # The cookie alone does not authorise a write: a cross-site form could send it.
    refused = client.post(note_url, json={"text": "cookie only"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert client.post(note_url, json={"text": "with token"}, headers={"X-CSRF-Token": new_csrf}).status_code == 201
    out = client.post("/logout", data={"csrf_token": new_csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    after = client.get("/customers")
    assert after.status_code == 303 and after.headers["location"].startswith("/login?next=/customers")


def test_sign_in__disabled_user_and_last_admin(live):
    admin = live.client("admin")
    r = admin.post("/api/users", json={"email": "leaver@example.com", "password": "leaver-password", "role": "analyst"})
    uid = r.json()["id"]
    token = httpx.post(f"{live.url}/api/auth/token",
                       data={"username": "leaver@example.com", "password": "leaver-password"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{live.url}/api/customers", headers=headers).status_code == 200
    assert admin.patch(f"/api/users/{uid}", json={"is_active": False}).json()["is_active"] is False
    assert httpx.get(f"{live.url}/api/customers", headers=headers).status_code == 401  # at once, not at expiry
    demote = admin.patch(f"/api/users/{live.ids['users']['admin']}", json={"role": "agent"})
    assert demote.status_code == 409 and "last active admin" in demote.json()["error"]["message"]
    dup = admin.post("/api/users", json={"email": ROLE_USERS["agent"], "password": "whatever-123", "role": "agent"})
    assert dup.status_code == 409
    short = admin.post("/api/users", json={"email": "x@example.com", "password": "short", "role": "agent"})
    assert short.status_code == 422 and short.json()["error"]["details"][0]["field"] == "password"
