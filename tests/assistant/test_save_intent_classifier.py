"""Saving and loading an intent classifier: same answers after a round trip; stale or foreign files refused."""

from __future__ import annotations

import joblib
import pytest

from aicrm.assistant.nlu import IntentClassifier, load_default_nlu, training_fingerprint
from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples
from aicrm.core.errors import ModelNotTrained, ValidationFailed

MESSAGES = ["where is my parcel", "I want my money back", "hello!", "how do I boil an egg", ""]


@pytest.fixture(scope="module")
def shop():
    texts, labels = load_examples(DEFAULT_INTENTS)
    return texts, labels, IntentClassifier(embeddings=False).fit(texts, labels)


def test_save_intent_classifier__round_trip(shop, tmp_path):
    texts, labels, model = shop
    path = model.save(tmp_path / "nested" / "intents.joblib")
    loaded = IntentClassifier.load(path, fingerprint=training_fingerprint(texts, labels))
    assert [u.to_dict() for u in loaded.parse_many(MESSAGES)] == [u.to_dict() for u in model.parse_many(MESSAGES)]
    blob = joblib.load(path)
    assert blob["fingerprint"] == model.fingerprint_ == training_fingerprint(texts, labels)
    assert blob["params"]["embeddings"] is False and blob["params"]["in_scope_target"] == 0.99
    assert blob["metrics"]["model"] == "tfidf-svm" and blob["metrics"]["n_train"] == len(texts)


def test_save_intent_classifier__refuses_other_version_or_data(shop, tmp_path):
    texts, labels, model = shop
    path = model.save(tmp_path / "intents.joblib")
    with pytest.raises(ValidationFailed, match="trained on other examples"):
        IntentClassifier.load(path, fingerprint=training_fingerprint(texts[1:], labels[1:]))
    for key, value in [("aicrm_version", "0.0.1"), ("format", 999), ("sklearn_version", "0.1")]:
        blob = joblib.load(path)
        blob[key] = value
        joblib.dump(blob, tmp_path / "old.joblib")
        with pytest.raises(ValidationFailed, match="was saved by") as err:
            IntentClassifier.load(tmp_path / "old.joblib")
        assert "Retrain" in err.value.hint
    (tmp_path / "junk.joblib").write_bytes(b"not a pickle at all")
    with pytest.raises(ValidationFailed, match="not a readable intent classifier"):
        IntentClassifier.load(tmp_path / "junk.joblib")
    joblib.dump({"something": "else"}, tmp_path / "other.joblib")
    with pytest.raises(ValidationFailed, match="not an aicrm intent classifier"):
        IntentClassifier.load(tmp_path / "other.joblib")
    with pytest.raises(ModelNotTrained):
        IntentClassifier.load(tmp_path / "absent.joblib")


def test_load_default_nlu__trains_once_then_reuses_the_saved_model(tmp_path):
    first = load_default_nlu(embeddings=False, cache_dir=tmp_path)
    saved = list(tmp_path.glob("default-intents-tfidf-*.joblib"))
    assert len(saved) == 1 and saved[0].stat().st_size > 0
    assert load_default_nlu(embeddings=False, cache_dir=tmp_path) is first  # in memory
    from aicrm.assistant import nlu

    nlu._default_nlu.cache_clear()
    again = load_default_nlu(embeddings=False, cache_dir=tmp_path)  # from disk: same model, no retraining
    assert again is not first and again.fingerprint_ == first.fingerprint_
    assert again.train_seconds_ == first.train_seconds_
    assert again.parse("Where is my order ORD-12345?").intent == "order_status"
