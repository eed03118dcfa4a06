"""A live aicrm server for API and browser tests: a small known store, served by uvicorn on a free port.

Test modules import the ``live`` fixture (``from tests.web.live import live  # noqa: F401``); it is module-scoped
and parametrized over SQLite and PostgreSQL, so each module starts one server per backend.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

PASSWORD = "correct-horse-battery"
ROLE_USERS = {role: f"{role}@example.com" for role in ("admin", "manager", "analyst", "agent")}
AS_OF = dt.datetime(2026, 6, 30, 12, 0)

# Churn probability of the current (v2) and an older (v1) model per customer external id; v1 must never show.
CHURN_V2 = {"C001": 0.91, "C002": 0.72, "C003": 0.55, "C004": 0.40, "C005": 0.12, "C006": 0.05,
            "C007": 0.83, "C008": 0.33, "C009": 0.67, "C010": 0.21, "C011": 0.95, "C012": 0.02}
CHURN_V1 = {k: round(1 - v, 2) for k, v in CHURN_V2.items()}
CLV = {"C001": 1200.0, "C002": 80.0, "C003": 640.0, "C004": 300.0, "C005": 2200.0, "C006": 50.0,
       "C007": 980.0, "C008": 410.0, "C009": 150.0, "C010": 75.0, "C011": 30.0, "C012": 1500.0}
SEGMENT = {"C001": "Champions", "C002": "At risk", "C003": "At risk", "C004": "Loyal", "C005": "Champions",
           "C006": "New", "C007": "At risk", "C008": "Loyal", "C009": "At risk", "C010": "New", "C011": "At risk",
           "C012": "Champions"}
# The stored RFM cell (R, F, M scores as one number, as the segmentation job writes it) and the spend behind it.
RFM = {"C001": 555, "C002": 155, "C003": 254, "C004": 343, "C005": 555, "C006": 511, "C007": 155, "C008": 343,
       "C009": 155, "C010": 511, "C011": 122, "C012": 555}
MONETARY = {k: 100.0 + 10 * n for n, k in enumerate(RFM)}  # C012 spent most
CLUSTER = {k: ("Frequent high spenders, bought recently" if RFM[k] // 100 == 5 else
               "Regular mid spenders, not seen for a long time") for k in RFM}
NAMES = {"C001": "Alice Martin", "C002": "Bob Chen", "C003": "Chloé Dubois", "C004": "Dan Wright",
         "C005": "Emma Schmidt", "C006": "Farid Khan", "C007": "Grace Hall", "C008": "Henry King",
         "C009": "Isla Young", "C010": "Jack Walker", "C011": "王伟", "C012": "Lena Muller"}


def band(p: float) -> str:
    return "high" if p >= 0.66 else "medium" if p >= 0.33 else "low"


@functools.cache
def _password_hash() -> str:
    from aicrm.auth.security import hash_password

    return hash_password(PASSWORD)


# Tokens and session cookies stay valid across the module servers: same secret, same user ids in every store.
_TOKENS: dict[str, str] = {}
_COOKIES: dict[str, tuple[dict, str]] = {}


def populate(engine) -> dict:
    """Fill an empty store with the known shop above; returns ids by external id and the users."""
    from sqlalchemy.orm import Session

    from aicrm.auth import service as auth_service
    from aicrm.core.models import (
        User, Conversation, Customer, CustomerScore, Feedback, Interaction, Message, ModelRun, Order, OrderLine, Product,
        Recommendation, Ticket,
    )

    ids: dict[str, int] = {}
    with Session(engine, expire_on_commit=False) as s:
        auth_service.ensure_roles(session=s)
        # One argon2 hash for all four users: hashing is deliberately slow, and it is tested in tests/auth.
        users = {role: User(email=email, password_hash=_password_hash(), role=role)
                 for role, email in ROLE_USERS.items()}
        s.add_all(users.values())
        products = [Product(external_id=f"P{i}", name=name, category=cat, unit_price=price)
                    for i, (name, cat, price) in enumerate([("Green tea", "Tea", 8.0), ("Teapot", "Kitchen", 35.0),
                                                            ("Notebook", "Stationery", 6.5), ("Candle", "Home", 14.0),
                                                            ("Espresso beans", "Coffee", 12.0)], start=1)]
        s.add_all(products)
        customers = []
        for n, ext in enumerate(NAMES, start=1):
            customers.append(Customer(
                external_id=ext, name=NAMES[ext], email=f"{ext.lower()}@shop.example", phone=f"+44 20 7946 {n:04d}",
                country="United Kingdom" if n % 3 else "China", city="London" if n % 3 else "Shanghai",
                birth_date=dt.date(1970 + n, 1 + n % 12, 1 + n), signup_date=dt.date(2024, 1, n)))
        s.add_all(customers)
        s.flush()
        ids = {c.external_id: c.id for c in customers}
        pid = {p.external_id: p.id for p in products}
        # Orders: customer n has n % 4 + 1 orders of 10 * (k + 1) each, monthly back from AS_OF.
        for c_n, c in enumerate(customers, start=1):
            for k in range(c_n % 4 + 1):
                order = Order(external_id=f"O{c_n:03d}-{k}", customer_id=c.id,
                              ordered_at=AS_OF - dt.timedelta(days=30 * k + c_n), total_amount=10.0 * (k + 1),
                              currency="GBP", status="completed", channel="web")
                s.add(order)
                s.flush()
                s.add(OrderLine(order_id=order.id, line_no=1, product_id=pid[f"P{k % 5 + 1}"], quantity=1,
                                unit_price=10.0 * (k + 1), amount=10.0 * (k + 1)))
        for version, table in ((1, CHURN_V1), (2, CHURN_V2)):
            for ext, p in table.items():
                s.add(CustomerScore(customer_id=ids[ext], model_name="churn", model_version=version, value=p,
                                    label=band(p), explanation={"reasons": [
                                        {"text": "No order in the last 90 days", "contribution": 0.8},
                                        {"text": "Opened a complaint ticket", "contribution": 0.3},
                                        {"text": "Member for over two years", "contribution": -0.4}]}))
        for ext, v in CLV.items():
            s.add(CustomerScore(customer_id=ids[ext], model_name="clv", model_version=1, value=v,
                                label="likely active" if v >= 100 else "likely lost",
                                explanation={"p_alive": 0.8, "expected_purchases_30d": 0.5,
                                             "expected_purchases_90d": 1.5, "expected_purchases_365d": 6.0,
                                             "expected_spend_per_purchase": round(v / 6.0, 2)}))
            cell = RFM[ext]
            s.add(CustomerScore(customer_id=ids[ext], model_name="segment", model_version=1, value=float(cell),
                                label=SEGMENT[ext], explanation={
                                    "r": cell // 100, "f": cell // 10 % 10, "m": cell % 10, "recency_days": 10,
                                    "frequency": cell // 10 % 10, "monetary": MONETARY[ext], "tenure_days": 400}))
            s.add(CustomerScore(customer_id=ids[ext], model_name="cluster", model_version=1,
                                value=0.0 if RFM[ext] // 100 == 5 else 1.0, label=CLUSTER[ext],
                                explanation={"cluster": 0 if RFM[ext] // 100 == 5 else 1, "profile": CLUSTER[ext]}))
        for rank, p in enumerate(["P2", "P5", "P4"], start=1):
            s.add(Recommendation(customer_id=ids["C001"], product_id=pid[p], model_version=3, rank=rank,
                                 score=1.0 / rank, reason=f"Bought by customers like Alice (rank {rank})"))
        s.add(Recommendation(customer_id=ids["C001"], product_id=pid["P3"], model_version=2, rank=1, score=0.1,
                             reason="stale"))
        s.add_all([
            ModelRun(model_name="churn", version=1, algorithm="lightgbm", metrics={"auc": 0.71, "brier": 0.2},
                     trained_at=AS_OF - dt.timedelta(days=30)),
            ModelRun(model_name="churn", version=2, algorithm="lightgbm", metrics={"auc": 0.78, "brier": 0.17},
                     trained_at=AS_OF - dt.timedelta(days=1)),
            ModelRun(model_name="clv", version=1, algorithm="bgnbd+gammagamma", metrics={"mae": 41.5},
                     trained_at=AS_OF - dt.timedelta(days=1)),
        ])
        # C001 has a ticket and C002 a conversation: the customers an agent serves.
        conv = Conversation(external_id="CV1", customer_id=ids["C002"], channel="chat", started_at=AS_OF)
        s.add(conv)
        s.flush()
        s.add_all([Message(conversation_id=conv.id, sender="customer", text="Where is my order?", intent="order_status",
                           confidence=0.93, created_at=AS_OF),
                   Message(conversation_id=conv.id, sender="assistant", text="It ships tomorrow.",
                           created_at=AS_OF + dt.timedelta(seconds=5))])
        s.add(Ticket(external_id="T1", customer_id=ids["C001"], subject="Broken teapot lid", category="damaged",
                     status="open", priority="high", created_at=AS_OF - dt.timedelta(days=2)))
        s.add(Ticket(external_id="T2", customer_id=None, subject="Wholesale enquiry", status="closed",
                     created_at=AS_OF - dt.timedelta(days=20)))
        for i, (ext, text, label, topic, rating) in enumerate([
                ("C001", "The teapot arrived broken", "negative", "delivery", 1.0),
                ("C003", "Lovely tea, fast delivery", "positive", "delivery", 5.0),
                ("C005", "Great value", "positive", "price", 4.0),
                ("C004", "It was fine", None, None, 3.0)]):
            s.add(Feedback(external_id=f"F{i}", customer_id=ids[ext], text=text, rating=rating,
                           created_at=AS_OF - dt.timedelta(days=40 * i + 1), sentiment_label=label,
                           sentiment_score={"negative": -0.7, "positive": 0.8}.get(label), topic=topic))
        s.add(Interaction(external_id="I1", customer_id=ids["C001"], channel="email", type="email_opened",
                          occurred_at=AS_OF - dt.timedelta(days=3)))
        s.commit()
        user_ids = {role: u.id for role, u in users.items()}
    return {"customers": ids, "products": pid, "users": user_ids}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 in a daemon thread until ``stop()``."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                   access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Live:
    """A running server over a populated store, with a signed-in client per role."""

    url: str
    engine: object
    app: object
    ids: dict
    backend: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def token(self, role: str) -> str:
        if role not in _TOKENS:
            r = httpx.post(f"{self.url}/api/auth/token", data={"username": ROLE_USERS[role], "password": PASSWORD})
            r.raise_for_status()
            _TOKENS[role] = r.json()["access_token"]
        return _TOKENS[role]

    def client(self, role: str | None) -> httpx.Client:
        """An HTTP client authenticated as ``role`` with a bearer token (``None``: anonymous)."""
        key = role or "anonymous"
        if key not in self.clients:
            headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
            self.clients[key] = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        return self.clients[key]

    def page_client(self, role: str) -> tuple[httpx.Client, str]:
        """A browser-like client signed in through the login form, and its session's CSRF token."""
        if role in _COOKIES:
            cookies, csrf = _COOKIES[role]
            client = httpx.Client(base_url=self.url, headers={"Accept": "text/html"}, cookies=cookies, timeout=30)
        else:
            client = httpx.Client(base_url=self.url, headers={"Accept": "text/html"}, timeout=30)
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            r = client.post("/login", data={"email": ROLE_USERS[role], "password": PASSWORD, "csrf_token": token})
            assert r.status_code == 303, r.text
            page = client.get("/customers")
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)
            _COOKIES[role] = (dict(client.cookies), csrf)
        self.clients[f"page-{role}-{len(self.clients)}"] = client
        return client, csrf

    def cid(self, external_id: str) -> int:
        return self.ids["customers"][external_id]


_SQLITE_TEMPLATE: dict[str, object] = {}


def _sqlite_template() -> tuple[Path, dict]:
    """A migrated, populated SQLite store built once per test process; modules get copies (fast, identical ids)."""
    if not _SQLITE_TEMPLATE:
        from aicrm.core.db import make_engine
        from aicrm.core.migrate import upgrade

        folder = Path(tempfile.mkdtemp(prefix="aicrm-live-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine=engine)
        ids = populate(engine)
        engine.dispose()  # closing the last connection folds the WAL into the file
        _SQLITE_TEMPLATE.update(path=path, ids=ids)
    return _SQLITE_TEMPLATE["path"], _SQLITE_TEMPLATE["ids"]


def make_store(request, backend: str, tmp_path_factory):
    """A populated store and its ids: a copy of the SQLite template, or the session's PostgreSQL database refilled."""
    from aicrm.core.db import make_engine

    if backend == "sqlite":
        template, ids = _sqlite_template()
        path = tmp_path_factory.mktemp("live") / "aicrm.db"
        shutil.copyfile(template, path)
        return make_engine(f"sqlite:///{path}"), ids
    from tests.conftest import _truncate_all

    engine = request.getfixturevalue("postgres_database")
    _truncate_all(engine)
    return engine, populate(engine)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory):
    """A live server over the known store, once on SQLite and once on PostgreSQL."""
    from aicrm.web.app import create_app

    engine, ids = make_store(request, request.param, tmp_path_factory)
    app = create_app(engine)
    server = ServerThread(app).start()
    state = Live(url=server.url, engine=engine, app=app, ids=ids, backend=request.param)
    yield state
    for client in state.clients.values():
        client.close()
    server.stop()
    if request.param == "sqlite":
        engine.dispose()
