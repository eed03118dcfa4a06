"""analyse_feedback fills the feedback analysis columns; summaries per customer and per month."""

import json

import pandas as pd

from aicrm.nlp.analyse import analyse_feedback, feedback_by_customer, feedback_by_month
from aicrm.nlp.pii import PiiDetector
from aicrm.nlp.simulate import simulate_feedback


def test_analyse_feedback_columns_and_known_answers():
    df = simulate_feedback(240, lang="en", random_state=5)
    df.loc[0, "text"] = "My name is Anna Lee, order ORD-55555 was late, call +1 415 555 2671."
    df.loc[1, "text"] = "房间很干净，服务热情周到，非常满意！"
    df.loc[2, "text"] = None
    out = analyse_feedback(df, pii_detector=PiiDetector(engine="regex"))
    assert list(out.columns[-6:]) == ["language", "sentiment_label", "sentiment_score", "topic", "pii", "analysis"]
    assert len(out) == 240 and list(out["text"].iloc[3:]) == list(df["text"].iloc[3:])  # a copy, rows untouched
    assert out.loc[1, "language"] == "zh" and out.loc[1, "sentiment_label"] == "positive"
    assert out.loc[2, "language"] == "other" and out.loc[2, "sentiment_label"] == "neutral" and pd.isna(out.loc[2, "topic"])
    assert {e["type"] for e in out.loc[0, "pii"]} == {"PERSON", "ORDER", "PHONE"}
    assert out.loc[0, "analysis"]["pii_types"] == ["ORDER", "PERSON", "PHONE"]
    json.dumps(list(out["analysis"]))  # storable in the JSON column
    # Zero-label sentiment separates the planted good theme from the defective one.
    by_theme = out.iloc[3:].groupby("theme")["sentiment_score"].mean()
    assert by_theme["great quality"] > 0.3 and by_theme["defective product"] < 0
    # Topics are labelled by their words: most late-delivery texts get a topic naming delivery.
    late = out.iloc[3:][out["theme"].iloc[3:] == "late delivery"]
    assert late["topic"].str.contains("delivery|late").mean() > 0.9
    assert out["language"].str.len().max() <= 8 and out["topic"].dropna().str.len().max() <= 128


def test_feedback_summaries_per_customer_and_month():
    df = simulate_feedback(300, lang="en", n_customers=10, months=3, random_state=6)
    out = analyse_feedback(df, pii_detector=PiiDetector(engine="regex"))
    customers = feedback_by_customer(out)
    assert customers["feedback"].sum() == 300 and len(customers) == df["customer_id"].nunique()
    expected = df.groupby("customer_id")["rating"].mean().round(4)
    pd.testing.assert_series_equal(customers.set_index("customer_id")["mean_rating"], expected, check_names=False)
    months = feedback_by_month(out)
    assert list(months["month"]) == sorted(df["created_at"].dt.strftime("%Y-%m").unique())
    assert set(months.columns) >= {"feedback", "mean_sentiment", "negative_share", "positive_share", "mean_rating", "top_topic"}


def test_analyse_feedback_too_few_texts_has_no_topics():
    out = analyse_feedback(pd.DataFrame({"text": ["great", "awful"]}), rating_col=None, pii_detector=PiiDetector(engine="regex"))
    assert out["topic"].isna().all() and list(out["sentiment_label"]) == ["positive", "negative"]
