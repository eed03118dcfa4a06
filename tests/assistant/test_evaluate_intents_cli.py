"""`aicrm assistant intents-evaluate`: JSON keys, the table, and bad input reported without a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples
from aicrm.cli import app

runner = CliRunner()
HOLDOUT = Path(__file__).with_name("data") / "shop_holdout.csv"


def _run(*args: str):
    result = runner.invoke(app, ["assistant", "intents-evaluate", *args])
    return result, result.output + (result.stderr if result.stderr_bytes is not None else "")


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory) -> Path:
    """The default shop intents as a CSV with non-default column names."""
    path = tmp_path_factory.mktemp("intents") / "train.csv"
    texts, labels = load_examples(DEFAULT_INTENTS)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["utterance", "intent"])
        writer.writerows(zip(texts, labels))
    return path


def test_evaluate_intents_cli__json(train_csv, tmp_path):
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(HOLDOUT.read_text().replace("text,label", "utterance,intent", 1))
    result, text = _run("--train", str(train_csv), "--test", str(test_csv), "--text-col", "utterance",
                        "--label-col", "intent", "--no-embeddings", "--json")
    assert result.exit_code == 0, text
    report = json.loads(result.stdout)
    assert {"accuracy", "macro_f1", "oos_recall", "threshold", "model", "train_seconds"} <= set(report)
    assert report["model"] == "tfidf-svm" and report["n_test"] == 90 and report["n_oos"] == 30
    assert report["accuracy"] >= 0.9 and report["macro_f1"] >= 0.9
    assert 0 <= report["oos_recall"] <= 1 and 0 < report["threshold"] < 1 and report["train_seconds"] > 0


def test_evaluate_intents_cli__table_and_no_oos_rows(tmp_path):
    test_csv = tmp_path / "in_scope.csv"
    test_csv.write_text("".join(line for line in HOLDOUT.read_text().splitlines(keepends=True)
                                if not line.rstrip().endswith(",oos")))
    result, text = _run("--train", str(DEFAULT_INTENTS), "--test", str(test_csv), "--no-embeddings", "--json")
    assert result.exit_code == 0, text
    assert "oos_recall" not in json.loads(result.stdout)
    result, text = _run("--train", str(DEFAULT_INTENTS), "--test", str(HOLDOUT), "--no-embeddings")
    assert result.exit_code == 0, text
    assert "accuracy" in text and "out-of-scope recall (30 rows)" in text and "tfidf-svm" in text


def test_evaluate_intents_cli__bad_input_names_file_line_and_column(train_csv, tmp_path):
    result, text = _run("--train", str(train_csv), "--test", str(HOLDOUT), "--no-embeddings")
    assert result.exit_code == 1 and "Traceback" not in text
    assert str(train_csv) in text and "'text'" in text and "'label'" in text and "--text-col" in text

    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nhello,greeting\nbye,goodbye\n,greeting\n")
    result, text = _run("--train", str(DEFAULT_INTENTS), "--test", str(bad), "--no-embeddings")
    assert result.exit_code == 1 and "Traceback" not in text
    assert "line 4" in text and "'text'" in text and str(bad) in text

    with_oos = tmp_path / "with_oos.csv"
    with_oos.write_text("text,label\nhi,greeting\nhello,greeting\nbye,goodbye\nciao,goodbye\nweather?,oos\n")
    result, text = _run("--train", str(with_oos), "--test", str(HOLDOUT), "--no-embeddings")
    assert result.exit_code == 1 and "labelled 'oos'" in text and "Traceback" not in text

    result, text = _run("--train", str(tmp_path / "absent.csv"), "--test", str(HOLDOUT))
    assert result.exit_code == 1 and "no such file" in text and "Traceback" not in text
