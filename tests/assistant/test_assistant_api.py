"""The assistant's HTTP faces against a live uvicorn server over a demo store (SQLite and PostgreSQL).

The server, users and tokens come from ``tests/web/live.py``; the store holds the web tests' known shop (for the
users) plus the simulated demo shop (for orders with real statuses).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicrm.core.models import Conversation, Customer, Order, ReturnRequest
from tests.web.live import Live, ServerThread, populate

DEMO_CUSTOMERS = 300
SEED = 7


def make_assistant(tmp_path_factory):
    from aicrm.assistant.knowledge import KnowledgeBase, load_articles
    from aicrm.assistant.nlu import load_default_nlu
    from aicrm.assistant.service import Assistant

    nlu = load_default_nlu(embeddings=False, cache_dir=tmp_path_factory.mktemp("nlu"))
    return Assistant(nlu=nlu, knowledge=KnowledgeBase(embeddings=False).fit(load_articles()))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """A live server whose store holds the web tests' users and the demo shop; the assistant uses TF-IDF."""
    from aicrm.core.db import make_engine
    from aicrm.core.migrate import upgrade
    from aicrm.demo.service import load_demo
    from aicrm.web.app import create_app

    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('assistant-api') / 'aicrm.db'}")
        upgrade(engine=engine)
    else:
        from tests.conftest import _truncate_all

        engine = request.getfixturevalue("postgres_database")
        _truncate_all(engine)
    ids = populate(engine)  # first, so user ids (and cached tokens) match the web tests' stores
    load_demo(engine=engine, customers=DEMO_CUSTOMERS, seed=SEED)
    app = create_app(engine)
    app.state.assistant = make_assistant(tmp_path_factory)
    thread = ServerThread(app).start()
    live = Live(url=thread.url, engine=engine, app=app, ids=ids, backend=request.param)
    yield live
    for client in live.clients.values():
        client.close()
    thread.stop()
    if request.param == "sqlite":
        engine.dispose()


def day(value: dt.datetime) -> str:
    return f"{value.day} {value.strftime('%b %Y')}"


def say(client, text: str, **extra) -> dict:
    r = client.post("/api/assistant/messages", json={"text": text, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_assistant_api__order_status_then_return_over_http(server):
    with Session(server.engine) as s:
        order = s.scalars(select(Order).where(Order.status == "shipped").order_by(Order.id.desc())).first()
    agent = server.client("agent")
    first = say(agent, "Where is my parcel?")
    assert set(first) >= {"conversation_id", "reply", "intent", "confidence", "handoff"}
    assert first["intent"] == "order_status" and first["handoff"] is False and "order number" in first["reply"]
    second = say(agent, f"it's {order.external_id}", conversation_id=first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"] and second["action"] == "order_status"
    assert "shipped" in second["reply"] and day(order.shipped_at) in second["reply"]
    third = say(agent, "I want to return it", conversation_id=first["conversation_id"])
    assert third["action"] == "return_created"
    with Session(server.engine) as s:
        request = s.get(ReturnRequest, third["return_request_id"])
        assert request.order_id == order.id and request.customer_id == order.customer_id


def test_assistant_api__human_handoff_leaves_a_ticket_agents_can_read(server):
    with Session(server.engine) as s:
        customer_id = s.scalar(select(Customer.id).where(Customer.source == "demo").order_by(Customer.id))
    manager = server.client("manager")
    first = say(manager, "hello", customer_id=customer_id)
    turn = say(manager, "Can I talk to a real person please?", conversation_id=first["conversation_id"])
    assert turn["handoff"] is True and turn["ticket_id"]
    ticket = server.client("agent").get(f"/api/tickets/{turn['ticket_id']}").json()
    assert ticket["customer_id"] == customer_id and ticket["conversation_id"] == first["conversation_id"]
    assert "customer: Can I talk to a real person please?" in ticket["transcript"]
    assert [m["sender"] for m in ticket["messages"]] == ["customer", "assistant"] * 2
    conversation = server.client("analyst").get(f"/api/conversations/{first['conversation_id']}").json()
    assert conversation["handoff"] is True and conversation["state"]["ticket_id"] == turn["ticket_id"]


def test_assistant_api__who_may_use_it(server):
    body = {"text": "hello"}
    assert server.client(None).post("/api/assistant/messages", json=body).status_code == 401
    r = server.client("analyst").post("/api/assistant/messages", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    for role in ("agent", "manager", "admin"):
        assert server.client(role).post("/api/assistant/messages", json=body).status_code == 200


@pytest.mark.parametrize("body, status, field", [
    ({"text": ""}, 422, "text"),
    ({"text": "x" * 2001}, 422, "text"),
    ({"text": "hi", "conversation_id": 99_999_999}, 404, "conversation_id"),
    ({"text": "hi", "conversation_id": 2**40}, 422, "conversation_id"),
    ({"text": "hi", "customer_id": 99_999_999}, 404, "customer_id"),
])
def test_assistant_api__refuses_bad_requests(server, body, status, field):
    r = server.client("agent").post("/api/assistant/messages", json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["hint"] and field in str(error["details"])


def test_assistant_api__public_chat_shows_an_order_only_with_its_email(server):
    with Session(server.engine) as s:
        order, email = s.execute(select(Order, Customer.email).join(Customer, Customer.id == Order.customer_id)
                                 .where(Order.status == "shipped", Customer.email != "").order_by(Order.id)).first()
        staff_conversation = s.scalar(select(Conversation.id).order_by(Conversation.id))
    server.app.state.assistant_limits = None  # a fresh allowance for this test
    public = server.client(None)
    r = public.post("/api/assistant/public/messages", json={"text": f"where is order {order.external_id}?"})
    assert r.status_code == 200, r.text
    token = r.json()["conversation_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", token) and "e-mail" in r.json()["reply"]
    assert set(r.json()) == {"conversation_id", "reply", "intent", "confidence", "handoff"}
    wrong = public.post("/api/assistant/public/messages", json={"text": "nobody@example.com",
                                                                 "conversation_id": token}).json()
    assert "couldn't find" in wrong["reply"] and "shipped" not in wrong["reply"]
    right = public.post("/api/assistant/public/messages",
                        json={"text": f"{order.external_id} {email}", "conversation_id": token}).json()
    assert "shipped" in right["reply"] and day(order.shipped_at) in right["reply"]
    # A staff conversation cannot be continued from outside: public ids are random tokens, not numbers.
    r = public.post("/api/assistant/public/messages", json={"text": "hi", "conversation_id": str(staff_conversation)})
    assert r.status_code == 422
    r = public.post("/api/assistant/public/messages", json={"text": "hi", "conversation_id": "0" * 32})
    assert r.status_code == 404 and r.json()["error"]["hint"]


def test_assistant_api__public_chat_is_rate_limited(server):
    from aicrm.assistant.router import PUBLIC_FAILED_LOOKUPS, PUBLIC_MESSAGES_PER_MINUTE

    public = server.client(None)
    url = "/api/assistant/public/messages"
    server.app.state.assistant_limits = None
    for _ in range(PUBLIC_FAILED_LOOKUPS):  # wrong order number + e-mail pairs, each in a fresh chat
        r = public.post(url, json={"text": "Where is my order ORD-999999? E-mail guess@example.com"})
        assert r.status_code == 200 and "couldn't find" in r.json()["reply"]
    r = public.post(url, json={"text": "hello"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and r.json()["error"]["code"] == "rate_limited"
    server.app.state.assistant_limits = None
    codes = [public.post(url, json={"text": "hello"}).status_code for _ in range(PUBLIC_MESSAGES_PER_MINUTE + 1)]
    assert codes[:-1] == [200] * PUBLIC_MESSAGES_PER_MINUTE and codes[-1] == 429
    server.app.state.assistant_limits = None
    with Session(server.engine) as s:  # the failed look-ups left no trace of any customer in their chats
        chats = s.scalars(select(Conversation).where(Conversation.source == "assistant-public")).all()
    assert chats and all(c.customer_id is None for c in chats)


def test_assistant_api__chat_page_and_dashboard_panel(server):
    anonymous = server.client(None)
    page = anonymous.get("/chat")
    assert page.status_code == 200 and 'data-endpoint="/api/assistant/public/messages"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text), "no inline scripts under the CSP"
    script = anonymous.get("/static/assistant/chat.js")
    assert script.status_code == 200 and "textContent" in script.text and "innerHTML" not in script.text
    client, csrf = server.page_client("agent")
    panel = client.get("/assistant?customer_id=13")
    assert panel.status_code == 200 and "data-assistant-panel" in panel.text and 'data-customer-id="13"' in panel.text
    # The panel posts with the session cookie and the page's CSRF token, like HTMX requests do.
    r = client.post("/api/assistant/messages", json={"text": "hello"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["intent"] == "greeting"
    assert client.post("/api/assistant/messages", json={"text": "hello"}).status_code == 403
    assert anonymous.get("/assistant", headers={"Accept": "text/html"}).status_code in (303, 401)
