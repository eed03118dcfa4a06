"""``aicrm assistant chat``: piped lines in, replies out, over a demo store (the real CLI, in process)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aicrm.cli import app
from aicrm.core.config import get_settings
from aicrm.core.models import Conversation, Customer, Message, Order


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from aicrm.core.db import make_engine
    from aicrm.core.migrate import upgrade
    from aicrm.demo.service import load_demo

    folder = tmp_path_factory.mktemp("chat-cli")
    url = f"sqlite:///{folder / 'aicrm.db'}"
    engine = make_engine(url)
    upgrade(engine=engine)
    load_demo(engine=engine, customers=300, seed=7)
    yield url, engine, folder
    engine.dispose()


@pytest.fixture
def runner(store, monkeypatch):
    url, _, folder = store
    monkeypatch.setenv("AICRM_DATABASE_URL", url)
    monkeypatch.setenv("AICRM_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("AICRM_ASSISTANT_EMBEDDINGS", "0")  # TF-IDF: starts in a second
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_chat_dialogue__cli_answers_piped_lines(store, runner):
    _, engine, _ = store
    with Session(engine) as s:
        order = s.scalars(select(Order).where(Order.status == "delivered").order_by(Order.id.desc())).first()
    r = runner.invoke(app, ["assistant", "chat"], input=f"where is my parcel?\n\n{order.external_id}\n")
    assert r.exit_code == 0, r.output
    replies = [line for line in r.output.splitlines() if line.startswith("assistant> ")]
    assert len(replies) == 2  # the empty line is skipped
    assert "order number" in replies[0]
    assert "delivered" in replies[1] and f"{order.delivered_at.day} {order.delivered_at:%b %Y}" in replies[1]
    with Session(engine) as s:
        conv = s.scalars(select(Conversation).where(Conversation.channel == "cli").order_by(Conversation.id.desc())).first()
        assert s.query(Message).filter(Message.conversation_id == conv.id).count() == 4


def test_chat_dialogue__cli_json_as_a_known_customer(store, runner):
    _, engine, _ = store
    with Session(engine) as s:
        customer = s.scalars(select(Customer).order_by(Customer.id)).first()
    r = runner.invoke(app, ["assistant", "chat", "--customer", customer.external_id, "--json"],
                      input="hello\nI want a human\n")
    assert r.exit_code == 0, r.output
    answers = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert [a["intent"] for a in answers] == ["greeting", "talk_to_human"]
    assert answers[0]["conversation_id"] == answers[1]["conversation_id"]
    assert answers[1]["handoff"] is True and answers[1]["ticket_id"]
    assert set(answers[0]) == {"conversation_id", "reply", "intent", "confidence", "handoff", "action", "ticket_id",
                               "return_request_id", "order_number"}
    with Session(engine) as s:
        assert s.get(Conversation, answers[0]["conversation_id"]).customer_id == customer.id


def test_chat_dialogue__cli_names_an_unknown_customer(runner):
    r = runner.invoke(app, ["assistant", "chat", "--customer", "CUST-NOPE"], input="hi\n")
    assert r.exit_code == 1
    assert "no customer with id or external id 'CUST-NOPE'" in r.output and "Traceback" not in r.output
