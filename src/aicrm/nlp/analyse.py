"""Text analysis of a feedback table, in the shape of the store's ``feedback`` analysis columns.

``analyse_feedback`` adds language, sentiment_label, sentiment_score, topic, pii and analysis (a JSON-able
dict) so that a store job can write them to ``feedback.language / sentiment_label / sentiment_score /
topic / analysis``. Pure: no I/O.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.language import detect_languages
from aicrm.nlp.pii import PiiDetector
from aicrm.nlp.sentiment import SentimentClassifier, score_sentiments
from aicrm.nlp.topics import TopicModel

ANALYSIS_VERSION = "aicrm-text-1"


def analyse_feedback(
    table: pd.DataFrame,
    *,
    text_col: str = "text",
    rating_col: str | None = "rating",
    sentiment_model: SentimentClassifier | None = None,
    topic_model: TopicModel | None = None,
    n_topics: int | str = "auto",
    pii_detector: PiiDetector | None = None,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """A copy of ``table`` with language, sentiment_label, sentiment_score, topic, pii and analysis columns.

    Sentiment comes from ``sentiment_model`` when given (labels as trained; score = P(positive) - P(negative)),
    else from the zero-label default (VADER / Chinese lexicon). Topics come from ``topic_model`` when given,
    else a ``TopicModel(n_topics)`` fitted on these texts (needs a few dozen texts; fewer get no topic).
    """
    if text_col not in table.columns:
        raise ValidationFailed(
            f"no text column {text_col!r} in the table", hint=f"Columns are: {', '.join(map(str, table.columns))}."
        )
    out = table.copy()
    texts = [None if pd.isna(t) else str(t) for t in out[text_col]]
    out["language"] = langs = detect_languages(texts)

    if sentiment_model is not None:
        labels = [str(v) for v in sentiment_model.predict(texts)]
        scores = np.round(sentiment_model.predict_polarity(texts), 4)
        method = "classifier"
    else:
        pairs = score_sentiments(texts, langs=langs)
        labels = [label for label, _ in pairs]
        scores = [score for _, score in pairs]
        method = "lexicon"
    out["sentiment_label"] = labels
    out["sentiment_score"] = np.asarray(scores, dtype=float)

    topic_ids = np.full(len(texts), -1)
    topic_weights = np.zeros(len(texts))
    model = topic_model
    if model is None and sum(bool(t) for t in texts) >= 20:
        try:
            model = TopicModel(n_topics=n_topics, random_state=random_state).fit(texts)
        except ValidationFailed:
            model = None  # too little shared vocabulary: leave topics empty rather than fail the analysis
    if model is not None:
        weights = model.transform(texts)
        topic_ids = np.where(weights.sum(axis=1) > 0, weights.argmax(axis=1), -1)
        topic_weights = weights.max(axis=1) if weights.size else topic_weights
        out["topic"] = [model.topic_labels_[k] if k >= 0 else None for k in topic_ids]
    else:
        out["topic"] = None

    detector = pii_detector or PiiDetector()
    pii = [detector.find(t) for t in texts]
    out["pii"] = pii
    out["analysis"] = [
        {
            "version": ANALYSIS_VERSION,
            "sentiment_method": method,
            "topic_id": int(k) if k >= 0 else None,
            "topic_weight": round(float(w), 4) if k >= 0 else None,
            "pii": [{k2: e[k2] for k2 in ("type", "start", "end")} for e in ents],
            "pii_types": sorted({e["type"] for e in ents}),
        }
        for k, w, ents in zip(topic_ids, topic_weights, pii, strict=True)
    ]
    if rating_col and rating_col in out.columns and not is_numeric_dtype(out[rating_col]):
        out[rating_col] = pd.to_numeric(out[rating_col], errors="coerce")
    return out


def _summary(analysed: pd.DataFrame, keys: list[str], rating_col: str | None) -> pd.DataFrame:
    frame = analysed.assign(
        _neg=(analysed["sentiment_label"].astype(str).map(_is_negative)).astype(float),
        _pos=(analysed["sentiment_label"].astype(str).map(_is_positive)).astype(float),
    )
    agg = {"feedback": ("sentiment_score", "size"), "mean_sentiment": ("sentiment_score", "mean"),
           "negative_share": ("_neg", "mean"), "positive_share": ("_pos", "mean")}
    if rating_col and rating_col in frame.columns:
        agg["mean_rating"] = (rating_col, "mean")
    out = frame.groupby(keys, sort=True).agg(**agg)
    out["top_topic"] = frame.groupby(keys, sort=True)["topic"].agg(
        lambda s: s.dropna().mode().iloc[0] if s.notna().any() else None
    )
    return out.round(4).reset_index()


def _is_negative(label: str) -> bool:
    from aicrm.nlp.sentiment import label_polarity

    return label == "negative" or label_polarity(label) < 0


def _is_positive(label: str) -> bool:
    from aicrm.nlp.sentiment import label_polarity

    return label == "positive" or label_polarity(label) > 0


def feedback_by_customer(
    analysed: pd.DataFrame, *, customer_col: str = "customer_id", rating_col: str | None = "rating"
) -> pd.DataFrame:
    """Per customer: feedback count, mean sentiment, negative/positive share, mean rating, most frequent topic."""
    if customer_col not in analysed.columns:
        raise ValidationFailed(f"no column {customer_col!r} in the table", hint="Give customer_col=... .")
    return _summary(analysed, [customer_col], rating_col)


def feedback_by_month(
    analysed: pd.DataFrame, *, date_col: str = "created_at", rating_col: str | None = "rating"
) -> pd.DataFrame:
    """Per calendar month (``month`` = "YYYY-MM"): the same figures as ``feedback_by_customer``."""
    if date_col not in analysed.columns:
        raise ValidationFailed(f"no column {date_col!r} in the table", hint="Give date_col=... .")
    dates = pd.to_datetime(analysed[date_col], errors="coerce")
    frame = analysed.assign(month=dates.dt.strftime("%Y-%m"))
    return _summary(frame[frame["month"].notna()], ["month"], rating_col)
