"""The scoring job on the demo store: every customer scored, versions instead of duplicates, known answers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aicrm.core.db import make_engine, session_scope
from aicrm.core.migrate import upgrade
from aicrm.customers.models import Customer
from aicrm.demo.service import demo_truth, load_demo
from aicrm.ml.models import CustomerScore, ModelRun
from aicrm.ml.registry import latest_scores
from aicrm.scoring.service import score_all, train_all, train_clv



def _count(engine, model_name, version=None):
    with session_scope(engine) as s:
        q = select(func.count()).select_from(CustomerScore).where(CustomerScore.model_name == model_name)
        if version is not None:
            q = q.where(CustomerScore.model_version == version)
        return s.execute(q).scalar_one()


def test_train_and_score__every_customer_scored_and_rerun_adds_a_version(engine, data_dir):
    load_demo(engine=engine, customers=600, seed=21)
    first = {r["model"]: r for r in train_all(engine=engine, families=("segments", "churn", "clv"))}
    with session_scope(engine) as s:
        customers = s.execute(select(func.count()).select_from(Customer)).scalar_one()
    for name in ("segment", "cluster", "clv", "churn"):
        assert _count(engine, name) == customers, name
    churn = latest_scores(engine=engine, model_name="churn")
    assert churn["value"].between(0, 1).all() and churn["label"].isin(["low", "medium", "high"]).all()
    assert churn["explanation"].map(lambda e: len(e["reasons"]) == 3 and all(r["text"] for r in e["reasons"])).all()
    assert 0.5 < first["churn"]["metrics"]["roc_auc"] <= 1.0
    clv = latest_scores(engine=engine, model_name="clv")
    assert (clv["value"] >= 0).all() and clv["explanation"].map(lambda e: 0 <= e["p_alive"] <= 1).all()
    seg = latest_scores(engine=engine, model_name="segment")
    assert seg["label"].isin(["Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
                              "About to sleep", "At risk", "Cannot lose them", "Hibernating", "Lost"]).all()
    again = {r["model"]: r for r in score_all(engine=engine, families=("segments", "clv"))}
    assert again["clv"]["version"] == first["clv"]["version"] + 1
    for name in ("segment", "cluster", "clv"):
        assert _count(engine, name) == 2 * customers
        assert _count(engine, name, version=again["clv" if name == "clv" else "segments"]["version"]) == customers
    with session_scope(engine) as s:
        runs = s.execute(select(ModelRun.model_name, ModelRun.version).where(ModelRun.model_name == "clv")).all()
    assert sorted(v for _, v in runs) == [1, 2]


@pytest.mark.slow
def test_train_clv__bgnbd_recovers_demo_parameters(tmp_path, data_dir):
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade(engine=engine)
    load_demo(engine=engine, customers=8000, seed=5)
    truth = demo_truth(engine=engine)["params"]["bgnbd"]
    result = train_clv(engine=engine, model="bgnbd")
    with session_scope(engine) as s:
        run = s.execute(select(ModelRun).where(ModelRun.model_name == "clv")).scalar_one()
    assert result["algorithm"] == "bgnbd"
    for key in ("r", "alpha", "a", "b"):
        assert run.params[key] == pytest.approx(truth[key], rel=0.2), (key, run.params[key], truth[key])
    # the backtest on the last 26 weeks predicts total repeat purchases within 10%
    assert abs(run.metrics["backtest_error_pct"]) < 10
