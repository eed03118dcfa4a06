"""Known answer: a customer table whose churn probability is a known function of contract, tenure and charges.

The model must recover the drivers (not the three irrelevant columns: a number, a yes/no flag and a
date drawn at random), keep identifiers out, give calibrated probabilities close to the true ones, and
explain each customer with their own values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from aicrm.core.errors import ModelNotTrained, ValidationFailed
from aicrm.ml.churn import ChurnModel, churn_labels, risk_band, score_customers

CONTRACTS = np.array(["Month-to-month", "One year", "Two year"])


def simulate_customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Table as a CSV export would give it (all text), true churn probability, and drawn churn label."""
    rng = np.random.default_rng(seed)
    contract = CONTRACTS[rng.choice(3, n, p=[0.5, 0.25, 0.25])]
    tenure = rng.integers(0, 73, n)
    monthly = np.round(rng.uniform(20, 120, n), 2)
    noise = rng.normal(size=n)
    logit = -1.2 + 1.8 * (contract == "Month-to-month") - 0.045 * tenure + 0.012 * (monthly - 70)
    p_true = 1 / (1 + np.exp(-logit))
    churned = rng.uniform(size=n) < p_true
    total = np.where(tenure == 0, " ", np.round(monthly * tenure, 2).astype(str))  # Telco's blank quirk
    start = rng.choice(30, n) + n * seed  # distinct across seeds, so ids look like real ids
    table = pd.DataFrame({
        "RowNumber": np.arange(1, n + 1).astype(str),
        "customer_id": [f"CUST-{i:06d}" for i in range(start[0], start[0] + n)],
        "email": [f"user{i}@example.com" for i in range(n)],
        "phone": [f"+44 20 7946 {i:04d}" for i in rng.permutation(n)],
        "Contract": contract,
        "tenure": tenure.astype(str),
        "MonthlyCharges": monthly.astype(str),
        "TotalCharges": total,
        "PaperlessBilling": rng.choice(["Yes", "No"], n),
        "last_login": (pd.Timestamp("2024-01-01") - pd.to_timedelta(rng.integers(0, 400, n), unit="D")).strftime("%Y-%m-%d"),
        "noise": np.round(noise, 4).astype(str),
        "Churn": np.where(churned, "Yes", "No"),
    })
    return table, p_true, churned.astype(int)


@pytest.fixture(scope="module")
def fitted():
    train, _, _ = simulate_customers(4000, seed=1)
    test, p_true, y_test = simulate_customers(4000, seed=2)
    model = ChurnModel(random_state=0).fit(train.drop(columns="Churn"), train["Churn"])
    return model, test.drop(columns="Churn"), p_true, y_test


def test_fit_churn_model_leaves_identifiers_out_and_says_why(fitted):
    model, *_ = fitted
    ex = model.excluded_columns_
    assert set(ex) == {"RowNumber", "customer_id", "email", "phone"}
    assert ex["RowNumber"].startswith("row number")
    assert "e-mail" in ex["email"] and "phone" in ex["phone"] and ex["customer_id"].startswith("identifier")
    kinds = {c.name: c.kind for c in model.encoder_.columns_}
    assert kinds == {"Contract": "categorical", "tenure": "numeric", "MonthlyCharges": "numeric",
                     "TotalCharges": "numeric", "PaperlessBilling": "boolean", "last_login": "date", "noise": "numeric"}


def test_fit_churn_model_ranks_the_simulated_drivers_first_and_noise_low(fitted):
    model, *_ = fitted
    imp = model.global_importance_
    assert list(imp.index[:3]) == ["Contract", "tenure", "MonthlyCharges"]
    for irrelevant in ("noise", "PaperlessBilling", "last_login"):
        assert imp[irrelevant] < 0.15 * imp["Contract"]
        assert imp[irrelevant] < imp["MonthlyCharges"]


def test_fit_churn_model_is_close_to_the_true_probabilities(fitted):
    model, X_test, p_true, y_test = fitted
    p = model.predict_churn_proba(X_test)
    oracle = roc_auc_score(y_test, p_true)
    assert roc_auc_score(y_test, p) > oracle - 0.02
    assert np.mean(np.abs(p - p_true)) < 0.05
    # calibration: within each decile of predicted risk the mean prediction matches the true probability
    bins = pd.qcut(p, 10, labels=False, duplicates="drop")
    by_bin = pd.DataFrame({"p": p, "t": p_true, "b": bins}).groupby("b").mean()
    assert np.max(np.abs(by_bin["p"] - by_bin["t"])) < 0.06


def test_explain_churn_names_drivers_with_the_customers_values(fitted):
    model, X_test, *_ = fitted
    risky = X_test[(X_test["Contract"] == "Month-to-month") & (X_test["tenure"].astype(int) <= 3)].head(20)
    reasons = model.explain(risky, top=3)
    assert len(reasons) == len(risky)
    for (_, row), items in zip(risky.iterrows(), reasons, strict=True):
        assert [r["direction"] for r in items] == ["raises risk"] * len(items)
        assert sum(r["contribution"] > 0 for r in items) >= 2
        texts = [r["text"] for r in items]
        assert "month-to-month contract" in texts
        t = int(row["tenure"])
        assert {"tenure of 1 month" if t == 1 else "new customer (tenure under a month)" if t == 0
                else f"tenure of {t} months"} & set(texts)
        assert {items[0]["feature"], items[1]["feature"]} == {"Contract", "tenure"}
        # an irrelevant column may fill a third slot, but only with a small push
        assert all(abs(r["contribution"]) < 0.15 for r in items if r["feature"] in ("noise", "last_login", "PaperlessBilling"))
        assert {r["feature"] for r in items}.isdisjoint(model.excluded_columns_)


def test_explain_churn_contributions_add_up_to_the_score(fitted):
    model, X_test, *_ = fitted
    X = X_test.head(50)
    Z = model.encoder_.transform(X)
    contrib = model._contributions(Z)
    np.testing.assert_allclose(contrib.sum(axis=1), model.decision_function(X), atol=1e-6)
    # The probability is a monotone map of that score (Platt), so the ranking the reasons explain is the ranking.
    order_score = np.argsort(model.decision_function(X_test))
    assert np.all(np.diff(model.predict_churn_proba(X_test)[order_score]) >= -0.02)


def test_score_customers_gives_band_and_reasons_per_row(fitted):
    model, X_test, *_ = fitted
    X = X_test.head(30).set_index("customer_id")
    out = score_customers(model, X, top=2)
    assert list(out.index) == list(X.index)
    assert set(out["risk_band"]) <= {"low", "medium", "high"}
    assert (out["risk_band"] == risk_band(out["churn_probability"].to_numpy())).all()
    assert all(len(r) == 2 for r in out["reasons"])


def test_fit_churn_model_handles_unseen_and_blank_values(fitted):
    model, X_test, *_ = fitted
    odd = X_test.head(3).copy()
    odd.loc[odd.index[0], "Contract"] = "Weekly"          # a contract type never seen in training
    odd.loc[odd.index[1], "MonthlyCharges"] = ""          # blank number
    odd.loc[odd.index[2], "last_login"] = "not a date"
    p = model.predict_churn_proba(odd)
    assert np.all((p > 0) & (p < 1))
    texts = [r["text"] for items in model.explain(odd, top=18) for r in items]
    assert "monthly charges not recorded" in texts


def test_risk_band_uses_the_stated_thresholds():
    assert list(risk_band(np.array([0.0, 0.29, 0.3, 0.59, 0.6, 1.0]))) == ["low", "low", "medium", "medium", "high", "high"]
    assert risk_band(0.5, thresholds=(0.2, 0.4)) == "high"


@pytest.mark.parametrize("values, positive, expected", [
    (["Yes", "No", "yes"], None, [1, 0, 1]),
    (["True", "False", "False"], None, [1, 0, 0]),
    (["T", "F", "F"], None, [1, 0, 0]),
    ([1, 0, 0], None, [1, 0, 0]),
    ([True, False, True], None, [1, 0, 1]),
    (["churned", "active", "active"], None, [1, 0, 0]),
    (["Attrited Customer", "Existing Customer", "Existing Customer"], None, [1, 0, 0]),
    (["2", "1", "1"], None, [1, 0, 0]),
    (["gone", "here", "here"], "here", [0, 1, 1]),
])
def test_read_churn_labels_understands_common_spellings(values, positive, expected):
    assert churn_labels(values, positive=positive).tolist() == expected


@pytest.mark.parametrize("values, positive, message", [
    (["No", "No"], None, "only one value"),
    (["gold", "silver"], None, "cannot tell which"),
    (["a", "b", "c"], None, "3 different values"),
    (["Yes", "", "No"], None, "no value"),
    (["Yes", "No"], "Churned", "has no value 'Churned'"),
])
def test_read_churn_labels_refuses_unclear_targets(values, positive, message):
    with pytest.raises(ValidationFailed, match=message) as err:
        churn_labels(values, positive=positive, name="Status")
    assert "Status" in err.value.message and err.value.hint


def test_predict_churn_before_fit_says_what_to_do():
    with pytest.raises(ModelNotTrained, match="not been trained"):
        ChurnModel().predict_churn_proba(pd.DataFrame({"a": [1]}))


def test_fit_churn_model_survives_a_save_and_load(fitted, tmp_path):
    import joblib

    model, X_test, *_ = fitted
    joblib.dump(model, tmp_path / "churn.joblib")
    loaded = joblib.load(tmp_path / "churn.joblib")
    X = X_test.head(40)
    np.testing.assert_allclose(loaded.predict_churn_proba(X), model.predict_churn_proba(X))
    assert loaded.explain(X) == model.explain(X)
    assert loaded.excluded_columns_ == model.excluded_columns_
