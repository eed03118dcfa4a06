"""Response shapes for feedback and its text analysis."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

FeedbackSort = Literal["id", "-id", "created_at", "-created_at", "rating", "-rating", "sentiment_score",
                       "-sentiment_score"]


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int | None
    order_id: int | None
    product_id: int | None
    text: str | None
    rating: float | None
    language: str | None
    channel: str | None
    created_at: dt.datetime
    sentiment_label: str | None
    sentiment_score: float | None
    topic: str | None


class FeedbackDetail(FeedbackRead):
    analysis: dict[str, Any] | None


class FeedbackPage(BaseModel):
    items: list[FeedbackRead]
    total: int


class SentimentMonth(BaseModel):
    month: str
    label: str
    count: int


class RatingMonth(BaseModel):
    month: str
    count: int
    mean_rating: float | None


class TopicCount(BaseModel):
    topic: str
    count: int
    avg_sentiment: float | None
