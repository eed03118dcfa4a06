"""Load the simulated shop into the store through the same import code that real files use."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, delete, select

from aicrm.core.db import session_scope
from aicrm.core.models import (
    Campaign, CampaignMember, CampaignResponse, Conversation, Customer, Message, StoreMetadata, Ticket,
)
from aicrm.demo.simulator import DemoParams, simulate
from aicrm.ingest.bulk import bulk_insert
from aicrm.ingest.mapping import Mapping
from aicrm.ingest.service import import_file

SOURCE = "demo"
METADATA_KEY = "demo"
ORDER_MAPPING = Mapping(source=SOURCE, cancelled_when=None)


def load_demo(*, engine: Engine, customers: int = 5000, seed: int = 42,
              progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Simulate the shop and load it; returns counts and timings. Re-loading the same seed changes nothing."""
    say = progress or (lambda stage, done, total: None)
    started = time.perf_counter()
    params = DemoParams(customers=customers, seed=seed)
    say("simulating", 0, 1)
    tables, truth = simulate(params)
    say("simulating", 1, 1)
    timings = {"simulate_s": round(time.perf_counter() - started, 2)}
    with tempfile.TemporaryDirectory(prefix="aicrm-demo-") as tmp:
        folder = Path(tmp)
        steps = [("customers", "customers"), ("products", "products"), ("orders", "orders"),
                 ("feedback", "feedback"), ("interactions", "interactions"), ("tickets", "tickets")]
        for i, (kind, name) in enumerate(steps):
            say("loading", i, len(steps) + 1)
            frame = tables[name].drop(columns=[c for c in ("defect_rate", "theme") if c in tables[name]])
            # Parquet: the same importer as CSV, but writing the files costs a fraction of to_csv's time.
            path = folder / f"{name}.parquet"
            frame.to_parquet(path, index=False)
            import_file(engine=engine, kind=kind, path=path, source=SOURCE,
                        mapping=Mapping(source=SOURCE, attributes=["defect_rate"] if name == "products" else []))
        _load_support_and_campaign(engine, tables)
        say("loading", len(steps) + 1, len(steps) + 1)
    _save_truth(engine, truth, tables)
    timings["total_s"] = round(time.perf_counter() - started, 2)
    return {"customers": customers, "seed": seed, **timings}


def _customer_ids(conn) -> pd.Series:
    from aicrm.ingest.bulk import fetch_frame

    ids = fetch_frame(conn, 'SELECT external_id, id FROM "customers" WHERE source = ?', [SOURCE])
    return pd.Series(ids["id"].to_numpy(), index=ids["external_id"].to_numpy())


def _load_support_and_campaign(engine: Engine, tables: dict) -> None:
    """Conversations, messages and the campaign have no import kind; they go in through the bulk writer."""
    chats, messages, campaign = tables["conversations"], tables["messages"], tables["campaign"]
    with engine.begin() as conn:
        cust = _customer_ids(conn)
        existing = conn.execute(select(Conversation.external_id).where(Conversation.source == SOURCE)).scalars().all()
        if not existing and len(chats):
            conv = chats.drop(columns=["intent"]).assign(customer_id=chats["customer_id"].map(cust), source=SOURCE,
                                                        state=None)
            bulk_insert(conn, Conversation.__table__, conv)
            ids = pd.Series(dict(conn.execute(select(Conversation.external_id, Conversation.id)
                                              .where(Conversation.source == SOURCE)).all()))
            msgs = messages.assign(conversation_id=messages["conversation"].map(ids)).drop(columns=["conversation"])
            msgs["confidence"] = None
            bulk_insert(conn, Message.__table__, msgs)
            # link the handed-off tickets to their chats
            tix = conn.execute(select(Ticket.id, Ticket.description).where(Ticket.source == SOURCE)).all()
            for tid, desc in tix:
                ext = (desc or "").rsplit(" ", 1)[-1]
                if ext in ids:
                    conn.execute(Ticket.__table__.update().where(Ticket.id == tid)
                                 .values(conversation_id=int(ids[ext]), transcript=None))
        name = campaign["name"]
        if conn.execute(select(Campaign.id).where(Campaign.name == name)).scalar() is None:
            cid = conn.execute(Campaign.__table__.insert().values(**campaign)).inserted_primary_key[0]
            members = tables["campaign_members"]
            bulk_insert(conn, CampaignMember.__table__, members.assign(
                campaign_id=cid, customer_id=members["customer_id"].map(cust),
                sent_at=pd.to_datetime(members["sent_at"])))
            resp = tables["campaign_responses"]
            bulk_insert(conn, CampaignResponse.__table__, resp.assign(
                campaign_id=cid, customer_id=resp["customer_id"].map(cust), revenue=None))


def _save_truth(engine: Engine, truth: dict, tables: dict) -> None:
    themes = tables["feedback"]["theme"].value_counts().to_dict() if len(tables["feedback"]) else {}
    value = {"params": truth["params"], "affinity": truth["affinity"], "feedback_themes": themes,
             "alive_share": float(truth["customers"]["alive_at_end"].mean())}
    with session_scope(engine) as s:
        s.execute(delete(StoreMetadata).where(StoreMetadata.key == METADATA_KEY))
        s.add(StoreMetadata(key=METADATA_KEY, value=value))


def demo_truth(*, engine: Engine) -> dict | None:
    """The true parameters the demo store was simulated from, or None if the store holds no demo."""
    with session_scope(engine) as s:
        row = s.get(StoreMetadata, METADATA_KEY)
        return row.value if row else None


def demo_customer_truth(*, customers: int, seed: int) -> pd.DataFrame:
    """Per-customer latent truth (rate, dropout probability, spend scale, alive at the end) for a demo store."""
    return simulate(DemoParams(customers=customers, seed=seed))[1]["customers"]


def has_demo(*, engine: Engine) -> bool:
    with session_scope(engine) as s:
        return s.execute(select(Customer.id).where(Customer.source == SOURCE).limit(1)).first() is not None


DEMO_USERS = (
    ("admin@example.com", "demo-admin-pass", "admin"),
    ("manager@example.com", "demo-manager-pass", "manager"),
    ("analyst@example.com", "demo-analyst-pass", "analyst"),
    ("agent@example.com", "demo-agent-pass", "agent"),
)


def ensure_demo_users(*, engine: Engine) -> list[tuple[str, str, str]]:
    """Create one demo account per role (skipped where it exists); returns (e-mail, password, role)."""
    from aicrm.auth import service as users
    from aicrm.auth.schemas import UserCreate

    with session_scope(engine) as s:
        for email, password, role in DEMO_USERS:
            if users.get_by_email(session=s, email=email) is None:
                users.create(session=s, data=UserCreate(email=email, password=password, role=role))
    return list(DEMO_USERS)
