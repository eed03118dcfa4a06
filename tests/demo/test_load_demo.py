"""The demo store: believable, deterministic, and honest about the parameters it was simulated from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from aicrm.core.db import session_scope
from aicrm.core.models import CampaignMember, Feedback, Order, OrderLine
from aicrm.demo.service import demo_truth, load_demo
from aicrm.demo.simulator import DemoParams, simulate
from aicrm.ingest.service import store_counts


def test_simulate_demo__same_seed_same_shop_other_seed_other_shop():
    a, _ = simulate(DemoParams(customers=300, seed=7))
    b, _ = simulate(DemoParams(customers=300, seed=7))
    c, _ = simulate(DemoParams(customers=300, seed=8))
    for name in ("customers", "orders", "feedback", "tickets", "interactions"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["orders"].equals(c["orders"])


def test_simulate_demo__purchases_follow_the_known_bgnbd_process():
    params = DemoParams(customers=6000, seed=3)
    tables, truth = simulate(params)
    cust = truth["customers"]
    r, alpha = params.bgnbd["r"], params.bgnbd["alpha"]
    a, b = params.bgnbd["a"], params.bgnbd["b"]
    # sample moments of the latent draws match the Gamma and Beta mixing distributions
    assert cust["lam"].mean() == pytest.approx(r / alpha, rel=0.06)
    assert cust["p_drop"].mean() == pytest.approx(a / (a + b), rel=0.05)
    # customers with a higher latent rate really buy more often
    orders = tables["orders"].drop_duplicates("order_id")
    orders = orders[orders["order_id"].str.startswith("ORD-")]
    counts = orders.groupby("customer_id").size().reindex(cust["customer_id"], fill_value=0).to_numpy()
    hi = cust["lam"].to_numpy() > np.median(cust["lam"])
    assert counts[hi].mean() > 1.5 * counts[~hi].mean()


def test_simulate_demo__review_sentiment_follows_experience():
    tables, _ = simulate(DemoParams(customers=3000, seed=5))
    fb = tables["feedback"]
    mean = fb.groupby("theme")["rating"].mean()
    assert mean["late_delivery"] < 3.1 and mean["defective"] < 2.1 and mean["great_quality"] > 4.0
    assert set(fb["language"]) == {"en", "zh"}
    assert fb.loc[fb["language"] == "zh", "text"].str.contains(r"[\u4e00-\u9fff]").all()


def test_load_demo__loads_through_import_and_reload_changes_nothing(engine):
    info = load_demo(engine=engine, customers=400, seed=11)
    counts = store_counts(engine=engine)
    assert counts["customers"] == 400 and counts["products"] == 200
    assert counts["orders"] > 400 and counts["order_lines"] > counts["orders"]
    assert counts["feedback"] > 50 and counts["interactions"] > 400 and counts["tickets"] > 0
    assert counts["conversations"] > 10 and counts["messages"] == 2 * counts["conversations"]
    with session_scope(engine) as s:
        returns = s.execute(select(func.count()).select_from(OrderLine).where(OrderLine.quantity < 0)).scalar_one()
        statuses = set(s.execute(select(Order.status).distinct()).scalars())
        groups = dict(s.execute(select(CampaignMember.group, func.count()).group_by(CampaignMember.group)).all())
        langs = set(s.execute(select(Feedback.language).distinct()).scalars())
    assert returns > 0 and {"delivered", "returned"} <= statuses
    assert groups["control"] > 20 and groups["treatment"] > 20
    assert langs == {"en", "zh"}
    truth = demo_truth(engine=engine)
    assert truth["params"]["bgnbd"] == {"r": 0.9, "alpha": 8.0, "a": 0.8, "b": 3.0}
    assert truth["params"]["seed"] == 11 and info["customers"] == 400
    load_demo(engine=engine, customers=400, seed=11)
    assert store_counts(engine=engine) == counts
