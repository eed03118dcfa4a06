"""Zero-label sentiment: VADER for English, the built-in lexicon for Chinese."""

import pytest

from aicrm.nlp.sentiment import label_polarity, score_sentiment, score_sentiments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I love it, great quality and fast delivery!", "positive"),
        ("Terrible service, the parcel never arrived.", "negative"),
        ("The parcel arrived on Tuesday.", "neutral"),
        ("房间很干净，服务热情周到，非常满意！", "positive"),
        ("质量太差了，用了一天就坏了，非常失望。", "negative"),
        ("我对这次购物不满意", "negative"),  # negator before a positive word
        ("价格有点贵，但是质量很好，很满意", "positive"),  # contrast: the verdict follows 但是
        ("房间还算干净，不过隔音太差，晚上很吵", "negative"),
        ("不错", "positive"),  # a word that starts with a negator character but is positive
        ("明天下午三点到", "neutral"),
        ("Le produit est arrivé.", "neutral"),  # other languages: no opinion
    ],
)
def test_score_sentiment_label(text, expected):
    label, score = score_sentiment(text)
    assert label == expected
    assert -1 <= score <= 1
    assert (score > 0) == (expected == "positive")


def test_score_sentiment_intensity_and_negation_order():
    _, good = score_sentiment("服务好")
    _, very_good = score_sentiment("服务非常好")
    _, not_good = score_sentiment("服务不好")
    assert very_good > good > 0 > not_good


def test_score_sentiments_uses_given_languages():
    assert [label for label, _ in score_sentiments(["great", "很好"], langs=["en", "zh"])] == ["positive", "positive"]
    assert score_sentiments([None, ""]) == [("neutral", 0.0), ("neutral", 0.0)]


@pytest.mark.parametrize(("label", "polarity"), [(1, 1), ("1", 1), (1.0, 1), ("positive", 1), (0, -1), ("neg", -1), ("neutral", 0), ("3", 0)])
def test_label_polarity(label, polarity):
    assert label_polarity(label) == polarity
