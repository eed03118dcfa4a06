"""SentimentClassifier on simulated labelled feedback (known answers) in English and Chinese."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.sentiment import SentimentClassifier
from aicrm.nlp.simulate import simulate_feedback


def _labelled(lang, n, seed):
    df = simulate_feedback(n, lang=lang, random_state=seed)
    labels = np.where(df["rating"] >= 4, "positive", np.where(df["rating"] <= 2, "negative", "neutral"))
    return df["text"].tolist(), labels, df["theme"].to_numpy()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fit_sentiment_classifier_recovers_theme_sentiment(lang):
    texts, labels, themes = _labelled(lang, 300, seed=1)
    test_texts, test_labels, test_themes = _labelled(lang, 200, seed=2)
    model = SentimentClassifier(lang="auto", use_embeddings=False, random_state=0).fit(texts, labels)
    assert model.lang_ == lang
    assert list(model.classes_) == ["negative", "neutral", "positive"]
    proba = model.predict_proba(test_texts)
    assert proba.shape == (200, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    pred = model.predict(test_texts)
    # Ratings are noisy around each theme's mean, so the best possible rule predicts each theme's majority label.
    majority = {t: max(set(labels[themes == t]), key=list(labels[themes == t]).count) for t in set(themes)}
    bayes = np.array([majority[t] for t in test_themes])
    assert np.mean(pred == bayes) >= 0.95
    polarity = model.predict_polarity(test_texts)
    good_theme = "great quality" if lang == "en" else "服务好"
    bad_theme = "defective product" if lang == "en" else "质量问题"
    assert polarity[test_themes == good_theme].mean() > 0.5 > -0.5 > polarity[test_themes == bad_theme].mean()


def test_fit_sentiment_classifier_binary_with_embeddings():
    pytest.importorskip("sentence_transformers")
    texts, labels, _ = _labelled("en", 200, seed=3)
    binary = labels != "neutral"
    texts = [t for t, keep in zip(texts, binary, strict=True) if keep]
    labels = np.where(labels[binary] == "positive", 1, 0)
    model = SentimentClassifier(lang="en", random_state=0).fit(texts, labels)
    assert "MiniLM" in model.description_
    assert list(model.classes_) == ["0", "1"]
    assert list(model.predict(["Great quality, well made, love it.", "Arrived broken and defective."])) == ["1", "0"]
    # Unseen wording: only the embedding/VADER view knows that "fantastic" is good and "awful" bad.
    polarity = model.predict_polarity(["Fantastic craftsmanship, superb.", "Awful, it fell apart, garbage."])
    assert polarity[0] > polarity[1]


def test_sentiment_classifier_rejects_bad_input():
    with pytest.raises(ValidationFailed, match="two different labels"):
        SentimentClassifier().fit(["good", "fine"], [1, 1])
    with pytest.raises(ValidationFailed, match="2 texts but 3 labels"):
        SentimentClassifier().fit(["good", "bad"], [1, 0, 1])
    with pytest.raises(ValidationFailed, match="unknown language"):
        SentimentClassifier(lang="fr").fit(["good", "bad"], [1, 0])
    with pytest.raises(NotFittedError):
        SentimentClassifier().predict(["good"])
