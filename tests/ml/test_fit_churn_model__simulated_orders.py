"""Known answer on order histories: customers leave at a rate that grows with their share of returned orders;
once gone they never buy again. Their feedback sentiment is drawn at random and has no effect.

Trained on two past cutoffs and scored at a later one, the model's reasons must name the simulated
drivers (a long time since the last purchase, many returns) and not the feedback noise.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from aicrm.ml.churn import ChurnModel
from aicrm.ml.churn_features import (
    score_transactional_churn,
    stacked_churn_frame,
    train_transactional_churn,
    transactional_churn_frame,
)

START = pd.Timestamp("2022-01-01")
END = pd.Timestamp("2023-04-10")
RECENCY = {"days_since_last_purchase", "recency_over_gap", "orders_30d", "orders_90d", "spend_90d"}
RETURNS = {"returns_share", "return_orders"}
NOISE = {"feedback_count", "feedback_mean", "feedback_last", "feedback_negative"}


def simulate_orders(n: int = 2000, seed: int = 0):
    """Order lines (returns as negative lines), random feedback, and each customer's true return rate."""
    rng = np.random.default_rng(seed)
    span = (END - START).days
    rate = rng.gamma(2.0, 1 / 50, n)                      # purchases per day while active
    return_p = rng.beta(1.0, 5.0, n)                      # chance that an order is (partly) returned
    hazard = 0.002 * np.exp(4.0 * return_p)               # daily chance of leaving: 7x higher at return_p=0.5
    join = rng.uniform(0, 180, n)
    leave = np.minimum(join + rng.exponential(1 / hazard), span)
    k = rng.poisson(rate * (leave - join)) + 1
    cust = np.repeat(np.arange(n), k)
    t = join[cust] + rng.uniform(0, 1, cust.size) * (leave - join)[cust]
    buys = pd.DataFrame({"customer_id": cust, "order_id": np.arange(cust.size),
                         "ordered_at": START + pd.to_timedelta(t, unit="D"),
                         "amount": np.round(rng.gamma(2.0, 30.0, cust.size), 2)})
    returned = rng.uniform(size=cust.size) < return_p[cust]
    rets = buys[returned].assign(amount=lambda d: -np.round(d["amount"] * rng.uniform(0.3, 1.0, len(d)), 2))
    lines = pd.concat([buys, rets], ignore_index=True)
    fc = np.repeat(np.arange(n), rng.poisson(2, n))
    feedback = pd.DataFrame({"customer_id": fc,
                             "created_at": START + pd.to_timedelta(rng.uniform(0, span, fc.size), unit="D"),
                             "sentiment_score": rng.uniform(-1, 1, fc.size)})
    truth = pd.DataFrame({"return_p": return_p}, index=pd.Index(np.arange(n), name="customer_id"))
    return lines, feedback, truth


@pytest.fixture(scope="module")
def scored():
    lines, feedback, truth = simulate_orders()
    kw = dict(customer_col="customer_id", date_col="ordered_at", amount_col="amount", order_col="order_id",
              feedback=feedback)
    X_train, y_train = stacked_churn_frame(lines, cutoffs=["2022-10-01", "2022-07-03"], **kw)
    X, y = transactional_churn_frame(lines, cutoff="2023-01-01", **kw)
    model = ChurnModel(random_state=0).fit(X_train.reset_index(drop=True), y_train.reset_index(drop=True))
    p = model.predict_churn_proba(X)
    return model, X, y, p, model.explain(X, top=3), truth.reindex(X.index)


def test_fit_churn_model_on_orders_predicts_the_simulated_churn(scored):
    _, _, y, p, _, _ = scored
    assert 0.3 < y.mean() < 0.9
    assert roc_auc_score(y, p) > 0.9
    assert abs(p.mean() - y.mean()) < 0.1


def test_explain_churn_names_recency_and_returns_not_noise(scored):
    model, X, y, p, reasons, truth = scored
    imp = model.global_importance_
    assert imp.index[0] in RECENCY
    assert imp[list(RETURNS)].max() > 2 * imp[list(NOISE)].max()
    riskiest = np.argsort(-p)[: len(p) // 5]
    named = [{r["feature"] for r in reasons[i]} for i in riskiest]
    assert np.mean([bool(s & RECENCY) for s in named]) > 0.95
    assert np.mean([bool(s & RETURNS) for s in named]) > 0.4
    assert np.mean([bool(s & NOISE) for s in named]) < 0.05
    slots = Counter(r["feature"] for items in reasons for r in items)
    assert sum(slots[f] for f in NOISE) < 0.06 * sum(slots.values())
    # one reason per group: a customer is not told three times that they stopped buying
    assert all(len({r["feature"] for r in items} & RECENCY) <= 1 for items in reasons)
    first = reasons[riskiest[0]][0]
    assert first["text"].startswith("no purchase for ") and first["feature"] == "days_since_last_purchase"


def test_explain_churn_returns_contribution_follows_the_true_return_rate(scored):
    model, X, _, _, _, truth = scored
    contrib = model._contributions(model.encoder_.transform(X))
    j = model.feature_names_.index("returns_share")
    enough = X["order_count"].to_numpy() >= 3
    rho = spearmanr(truth["return_p"].to_numpy()[enough], contrib[enough, j]).statistic
    assert rho > 0.4


def test_score_transactional_churn_scores_every_customer_as_of_the_last_day():
    lines, feedback, _ = simulate_orders(n=600, seed=3)
    kw = dict(customer_col="customer_id", date_col="ordered_at", amount_col="amount", order_col="order_id")
    model = train_transactional_churn(lines, horizon_days=90, n_cutoffs=2, **kw)
    assert model.training_cutoffs_ == ["2023-01-10T00:00:00", "2022-10-12T00:00:00"]
    out = score_transactional_churn(model, lines, top=3)
    assert out.index.name == "customer_id"
    assert out.index.nunique() == lines["customer_id"].nunique() == len(out)
    assert (out["as_of"] == pd.Timestamp("2023-04-10")).all()
    assert out["churn_probability"].between(0, 1).all()
    assert set(out["risk_band"]) <= {"low", "medium", "high"}
    assert all(len(r) == 3 and all(isinstance(x["text"], str) and x["text"] for x in r) for r in out["reasons"])
