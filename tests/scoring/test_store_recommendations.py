"""Stored recommendations on the demo store: ten per customer, with reasons, honouring the serve-time rules."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from aicrm.core.config import get_settings
from aicrm.core.db import _engine_for, session_scope
from aicrm.customers.models import Customer
from aicrm.demo.service import load_demo
from aicrm.features.store import load_lines, load_products
from aicrm.ml.models import ProductAssociation, Recommendation
from aicrm.scoring.service import score_recommend, train_recommend



def test_train_recommend__top10_with_reasons_and_rules(engine, data_dir):
    load_demo(engine=engine, customers=500, seed=3)
    first = train_recommend(engine=engine)
    with session_scope(engine) as s:
        customers = s.execute(select(func.count()).select_from(Customer)).scalar_one()
        recs = s.execute(select(Recommendation.customer_id, Recommendation.product_id, Recommendation.rank,
                                Recommendation.reason).where(Recommendation.model_version == first["version"])).all()
        assoc = s.execute(select(func.count()).select_from(ProductAssociation)).scalar_one()
    assert first["scored"] == customers and len(recs) == 10 * customers and assoc > 0
    assert all(r.reason for r in recs)
    products = load_products(engine=engine).set_index("product_id")
    bought = load_lines(engine=engine).groupby("customer_id")["product_id"].agg(set)
    rebuy = set(get_settings().rebuy_categories)
    cap = get_settings().max_recommendations_per_category
    per_customer: dict[int, list] = {}
    for r in recs:
        per_customer.setdefault(r.customer_id, []).append(r.product_id)
        category = products.loc[r.product_id, "category"]
        if r.product_id in bought.get(r.customer_id, set()):
            assert category in rebuy, "an already-bought product outside the re-buy categories was recommended"
    for items in per_customer.values():
        assert products.loc[items, "category"].value_counts().max() <= cap
    again = score_recommend(engine=engine)
    assert again["version"] == first["version"] + 1
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Recommendation)).scalar_one() == 20 * customers


def test_cli_recommend_for__prints_stored_recommendations(tmp_path, monkeypatch, data_dir):
    from aicrm.cli import app

    monkeypatch.setenv("AICRM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    _engine_for.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--customers", "300", "--no-serve"]).exit_code == 0
    assert runner.invoke(app, ["train", "recommend"]).exit_code == 0
    out = runner.invoke(app, ["recommend", "for", "CUST-000007", "--n", "5", "--json"])
    assert out.exit_code == 0, out.output
    items = json.loads(out.output)["items"]
    assert [i["rank"] for i in items] == [1, 2, 3, 4, 5] and all(i["reason"] for i in items)
    missing = runner.invoke(app, ["recommend", "for", "NOPE"])
    assert missing.exit_code == 1 and "no customer" in missing.output
    _engine_for.cache_clear()
