"""`aicrm churn evaluate` end to end: IBM Telco target, a readable table, and clear refusals of bad input."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from aicrm.cli import app
from tests.conftest import dataset_path
from tests.ml.test_fit_churn_model__simulated_table import simulate_customers

KEYS = {"rows", "positive_rate", "roc_auc", "pr_auc", "brier", "lift_at_10pct", "excluded_columns", "model"}
runner = CliRunner()


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    table, _, _ = simulate_customers(600, seed=5)
    table["Churn"] = np.where(table["Churn"] == "Yes", "churned", "active")
    path = tmp_path_factory.mktemp("churn") / "customers.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_evaluate_churn_cli_on_ibm_telco_meets_the_auc_target():
    path = dataset_path("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    result = runner.invoke(app, ["churn", "evaluate", str(path), "--target", "Churn", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == KEYS
    assert out["rows"] == 7043
    assert out["positive_rate"] == pytest.approx(1869 / 7043)
    assert out["roc_auc"] >= 0.848, out["model"]["roc_auc_per_fold"]
    assert 0.6 < out["pr_auc"] < 0.8 and 0.12 < out["brier"] < 0.15 and out["lift_at_10pct"] > 2.5
    assert list(out["excluded_columns"]) == ["customerID"]
    assert out["model"]["algorithm"] == "lightgbm" and out["model"]["folds"] == 5


def test_evaluate_churn_cli_prints_a_table_and_understands_churned_active(small_csv):
    result = runner.invoke(app, ["churn", "evaluate", str(small_csv), "--target", "Churn", "--folds", "3"])
    assert result.exit_code == 0, result.output
    for word in ("ROC-AUC", "PR-AUC", "Brier", "lift @ 10%", "600", "Left out of the model", "email"):
        assert word in result.stdout


def test_evaluate_churn_cli_positive_flips_the_label(small_csv):
    auto = json.loads(runner.invoke(app, ["churn", "evaluate", str(small_csv), "--target", "Churn", "--folds", "2",
                                          "--json"]).stdout)
    flipped = runner.invoke(app, ["churn", "evaluate", str(small_csv), "--target", "Churn", "--folds", "2",
                                  "--positive", "active", "--json", "--seed", "1"])
    assert flipped.exit_code == 0, flipped.output
    out = json.loads(flipped.stdout)
    assert out["positive_rate"] == pytest.approx(1 - auto["positive_rate"])
    assert out["roc_auc"] > 0.7 and auto["roc_auc"] > 0.7
    assert out["model"]["seed"] == 1


def _refused(result, *words):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output, result.output


def test_evaluate_churn_cli_refuses_a_missing_target_column(small_csv):
    result = runner.invoke(app, ["churn", "evaluate", str(small_csv), "--target", "churn"])
    _refused(result, str(small_csv), "no column 'churn'", "Did you mean --target Churn?")


def test_evaluate_churn_cli_refuses_a_single_class(tmp_path):
    path = tmp_path / "one_class.csv"
    path.write_text("id,plan,Churn\n" + "".join(f"{i},basic,No\n" for i in range(50)))
    _refused(runner.invoke(app, ["churn", "evaluate", str(path), "--target", "Churn"]),
             str(path), "column 'Churn' has only one value", "both churned and staying")


def test_evaluate_churn_cli_refuses_unreadable_files(tmp_path):
    missing = tmp_path / "nope.csv"
    _refused(runner.invoke(app, ["churn", "evaluate", str(missing), "--target", "Churn"]), str(missing), "no such file")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"a,b\n\xff\xfe\x00\x01garbage\n")
    _refused(runner.invoke(app, ["churn", "evaluate", str(binary), "--target", "b"]), str(binary), "not valid utf-8")
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(b"plan,Churn\n" + b"basic,No\n" * 1000)[:60])
    _refused(runner.invoke(app, ["churn", "evaluate", str(truncated), "--target", "Churn"]), str(truncated),
             "cannot read the file")


def test_evaluate_churn_cli_refuses_too_few_churners_for_the_folds(tmp_path):
    path = tmp_path / "rare.csv"
    rows = [f"{i},{'gold' if i % 2 else 'basic'},{'Yes' if i < 3 else 'No'}\n" for i in range(60)]
    path.write_text("id,plan,Churn\n" + "".join(rows))
    _refused(runner.invoke(app, ["churn", "evaluate", str(path), "--target", "Churn"]), str(path),
             "only 3 customer(s) of its rarer class", "--folds")
