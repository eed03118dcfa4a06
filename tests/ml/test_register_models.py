"""The model registry versions runs, keeps fingerprints, and refuses a model file that does not match."""

from __future__ import annotations

import joblib
import pandas as pd
import pytest

from aicrm.core.errors import ModelNotTrained, ValidationFailed
from aicrm.customers.models import Customer
from aicrm.core.db import session_scope
from aicrm.ml.registry import data_fingerprint, latest_scores, load_model, register, write_scores



def test_register_model__versions_and_round_trip(engine, data_dir):
    frame = pd.DataFrame({"a": [1, 2, 3]})
    fp = data_fingerprint(frame)
    assert fp == data_fingerprint(frame.copy()) and fp != data_fingerprint(frame.iloc[::-1])
    with pytest.raises(ModelNotTrained, match="aicrm train churn"):
        load_model(engine=engine, model_name="churn")
    r1 = register(engine=engine, model_name="churn", algorithm="x", params={"k": 1}, metrics={"auc": 0.8},
                  fingerprint=fp, model={"weights": [1, 2]})
    r2 = register(engine=engine, model_name="churn", algorithm="x", params={"k": 2}, metrics={"auc": 0.9},
                  fingerprint=fp, model={"weights": [3]})
    assert (r1.version, r2.version) == (1, 2)
    model, run = load_model(engine=engine, model_name="churn")
    assert model == {"weights": [3]} and run.metrics == {"auc": 0.9}
    assert load_model(engine=engine, model_name="churn", version=1)[0] == {"weights": [1, 2]}
    blob = joblib.load(r2.artifact_path)
    blob["fingerprint"] = "tampered"
    joblib.dump(blob, r2.artifact_path)
    with pytest.raises(ValidationFailed, match="does not match"):
        load_model(engine=engine, model_name="churn")


def test_write_scores__new_version_adds_rows_and_latest_reads_newest(engine):
    with session_scope(engine) as s:
        s.add_all([Customer(external_id=f"c{i}", source="t") for i in range(3)])
    with session_scope(engine) as s:
        ids = [c.id for c in s.query(Customer).order_by(Customer.id)]
    base = pd.DataFrame({"customer_id": ids, "value": [0.1, 0.5, 0.9], "label": ["low", "medium", "high"],
                         "explanation": [{"reasons": []}] * 3})
    assert write_scores(engine=engine, model_name="churn", version=1, scores=base) == 3
    write_scores(engine=engine, model_name="churn", version=2, scores=base.assign(value=[0.2, 0.6, 0.95]))
    latest = latest_scores(engine=engine, model_name="churn").sort_values("customer_id")
    assert latest["model_version"].tolist() == [2, 2, 2] and latest["value"].tolist() == [0.2, 0.6, 0.95]
    assert latest["explanation"].iloc[0] == {"reasons": []}
