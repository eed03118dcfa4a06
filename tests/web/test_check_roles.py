"""Every route of the app, tried anonymously and with every role; expectations come from the route list itself.

A route added later is covered automatically: it must either be listed as public here or declare who may call it
(an ``Allow(permission)`` dependency); otherwise this test fails and says so.
"""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from aicrm.auth.deps import Allow, get_current_user
from aicrm.auth.policy import PERMISSIONS
from aicrm.web.routes import iter_routes
from tests.web.live import ROLE_USERS, live  # noqa: F401

ROLES = tuple(ROLE_USERS)
PUBLIC = {("POST", "/api/auth/token"), ("GET", "/api/health"), ("GET", "/login"), ("POST", "/login"), ("GET", "/"),
          ("GET", "/metrics"), ("GET", "/docs"), ("GET", "/redoc"), ("GET", "/static/vendor/plotly.min.js"),
          ("POST", "/logout"),  # signing out needs only the CSRF token; tests/auth covers it
          # The customers' own chat (no account; rate-limited, orders only with a matching order number and e-mail):
          # tests/assistant covers what it reveals.
          ("GET", "/chat"), ("POST", "/api/assistant/public/messages")}


def _dependencies(dependant):
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def access_rule(route: APIRoute) -> frozenset[str] | None:
    """The roles a route admits (all roles for a bare ``CurrentUser``), or None when it does not authenticate."""
    calls = list(_dependencies(route.dependant))
    allows = [c for c in calls if isinstance(c, Allow)]
    if allows:
        return frozenset.intersection(*(a.roles for a in allows))
    if get_current_user in calls:
        return frozenset(ROLES)
    return None


def sample_path(path: str, live) -> str:
    c001 = live.cid("C001")
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from aicrm.core.models import Conversation, Feedback, ModelRun, Order, Product, Ticket

    with Session(live.engine) as s:
        values = {
            "customer_id": c001,
            "order_id": s.scalar(select(Order.id).where(Order.customer_id == c001).limit(1)),
            "product_id": s.scalar(select(Product.id).limit(1)),
            "feedback_id": s.scalar(select(Feedback.id).where(Feedback.customer_id == c001).limit(1)),
            "ticket_id": s.scalar(select(Ticket.id).where(Ticket.external_id == "T1")),
            "conversation_id": s.scalar(select(Conversation.id).limit(1)),
            "run_id": s.scalar(select(ModelRun.id).limit(1)),
            "user_id": live.ids["users"]["agent"],
        }
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    assert "{" not in path, f"add a sample value for the path parameter in {path} to this test"
    return path


def routes_to_check(app):
    out = []
    for path, methods, route in iter_routes(app):
        if not isinstance(route, APIRoute):
            continue
        for method in sorted(methods - {"HEAD"}):
            out.append((method, path, route))
    return out


def test_check_roles__every_route_declares_access(live):
    """No route may be reachable without either being public on purpose or naming its permission."""
    undeclared = [(m, p) for m, p, route in routes_to_check(live.app)
                  if (m, p) not in PUBLIC and access_rule(route) is None]
    assert not undeclared, f"routes with neither an Allow(...) nor CurrentUser dependency: {undeclared}"
    assert set(PERMISSIONS["users:manage"]) == {"admin"} and "agent" not in PERMISSIONS["analytics:read"]


def test_check_roles__matrix(live):
    """Anonymous callers get 401 (API) or the login page (dashboard); wrong roles get 403; right roles get in."""
    api = {role: live.client(role) for role in ROLES}
    pages = {role: live.page_client(role) for role in ROLES}
    anonymous = live.client(None)
    failures, checked = [], 0
    for method, template, route in routes_to_check(live.app):
        if (method, template) in PUBLIC:
            continue
        allowed = access_rule(route)
        path = sample_path(template, live)
        query = {p.name: 1 for p in route.dependant.query_params if p.field_info.is_required()}
        is_page = not template.startswith("/api")
        body = {} if method in ("POST", "PATCH", "PUT") else None
        anon = anonymous.request(method, path, params=query, json=body,
                                 headers={"Accept": "text/html"} if is_page else {})
        want = 303 if is_page else 401
        if anon.status_code != want:
            failures.append(f"anonymous {method} {template}: {anon.status_code}, expected {want}")
        elif not is_page:
            assert anon.json()["error"]["code"] == "unauthorized"
        for role in ROLES:
            if is_page:
                client, csrf = pages[role]
                r = client.request(method, path, params=query, headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
                                   data={} if body is not None else None)
            else:
                r = api[role].request(method, path, params=query, json=body)
            checked += 1
            if role in allowed and r.status_code in (401, 403):
                failures.append(f"{role} {method} {template}: {r.status_code}, should be allowed")
            elif role not in allowed and r.status_code != 403:
                failures.append(f"{role} {method} {template}: {r.status_code}, expected 403")
            elif r.status_code >= 500:
                failures.append(f"{role} {method} {template}: server error {r.status_code}")
            elif role not in allowed and not is_page:
                assert r.json()["error"]["code"] == "forbidden"
    assert checked > 100
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role, path, expected", [
    ("agent", "/api/segments", 403), ("agent", "/api/models", 403), ("analyst", "/api/users", 403),
    ("manager", "/api/users", 403), ("admin", "/api/users", 200), ("manager", "/api/segments", 200),
    ("analyst", "/api/settings", 403), ("admin", "/api/settings", 200),
])
def test_check_roles__known_answers(live, role, path, expected):
    """A few expectations written out by hand, independent of the policy table."""
    assert live.client(role).get(path).status_code == expected


def test_check_roles__writes_by_role(live):
    """Analysts read but never write; agents open tickets but cannot edit customers."""
    c = live.cid("C003")
    assert live.client("analyst").patch(f"/api/customers/{c}", json={"city": "Leeds"}).status_code == 403
    assert live.client("agent").patch(f"/api/customers/{c}", json={"city": "Leeds"}).status_code == 403
    assert live.client("analyst").post("/api/tickets", json={"subject": "x"}).status_code == 403
    r = live.client("agent").post("/api/tickets", json={"subject": "Call back", "customer_id": c})
    assert r.status_code == 201
    assert live.client("manager").patch(f"/api/customers/{c}", json={"city": "Leeds"}).json()["city"] == "Leeds"
