"""The text job fills sentiment, language and topics on every stored feedback item."""

from __future__ import annotations

from sqlalchemy import select

from aicrm.core.db import session_scope
from aicrm.demo.service import load_demo
from aicrm.feedback.models import Feedback
from aicrm.scoring.service import train_text


def test_train_text__every_feedback_item_analysed_and_sentiment_follows_rating(engine):
    load_demo(engine=engine, customers=400, seed=9)
    result = train_text(engine=engine)
    with session_scope(engine) as s:
        rows = s.execute(select(Feedback.rating, Feedback.language, Feedback.sentiment_label, Feedback.sentiment_score,
                                Feedback.topic, Feedback.analysis)).all()
    assert result["scored"] == len(rows) > 50
    assert all(r.sentiment_label in ("positive", "neutral", "negative") for r in rows)
    assert all(r.analysis["model_version"] == result["version"] for r in rows)
    low = [r.sentiment_score for r in rows if r.rating <= 2]
    high = [r.sentiment_score for r in rows if r.rating >= 4]
    assert sum(high) / len(high) > sum(low) / len(low) + 0.3
    zh_topics = {r.topic for r in rows if r.language == "zh" and r.topic}
    assert zh_topics and all(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in zh_topics)
