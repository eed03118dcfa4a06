"""BANKING77, official split, through the real CLI: the accuracy target of the understanding layer.

Reference: fine-tuned BERT reaches 93.66% (Casanueva et al. 2020, "Efficient Intent Detection with Dual Sentence
Encoders"). Here frozen MiniLM embeddings + word/char TF-IDF in one linear SVM; an out-of-scope rejection of an
in-scope test message counts as an error. Measured 0.9383 accuracy, 0.9419 macro-F1, 0.8% rejected. The encoder
dominates the run time (about 75 CPU-seconds for the 13,083 sentences), training the SVMs about 30.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from aicrm.assistant.encoder import embeddings_available
from aicrm.cli import app
from tests.conftest import dataset_path


@pytest.mark.slow
@pytest.mark.skipif(not embeddings_available(), reason="needs the nlp extra (sentence embeddings)")
def test_evaluate_intents_cli__banking77_official_split():
    train, test = dataset_path("banking77", "train.csv"), dataset_path("banking77", "test.csv")
    result = CliRunner().invoke(app, ["assistant", "intents-evaluate", "--train", str(train), "--test", str(test),
                                      "--label-col", "category", "--embeddings", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_train"] == 10_003 and report["n_test"] == 3_080 and report["n_intents"] == 77
    assert report["model"] == "minilm+tfidf-svm" and "oos_recall" not in report
    assert report["accuracy"] >= 0.935
    assert report["macro_f1"] >= 0.935
    assert report["in_scope_rejected"] <= 0.02  # thresholds target 1% of held-back in-scope rows
