"""Read feedback (reviews, surveys, comments) and summarise its sentiment and topics."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from aicrm.auth.policy import Principal
from aicrm.core.errors import NotFoundError, PermissionDenied
from aicrm.feedback.models import Feedback
from aicrm.feedback.schemas import (
    FeedbackDetail, FeedbackPage, FeedbackRead, RatingMonth, SentimentMonth, TopicCount,
)
from aicrm.products.service import like_pattern
from aicrm.support.service import served_customer

SORTS = {"id": Feedback.id, "created_at": Feedback.created_at, "rating": Feedback.rating,
         "sentiment_score": Feedback.sentiment_score}


def list_feedback(*, session: Session, viewer: Principal | None = None, customer_id: int | None = None,
                  product_id: int | None = None, sentiment: str | None = None, topic: str | None = None,
                  q: str | None = None, sort: str = "-created_at", limit: int = 50, offset: int = 0) -> FeedbackPage:
    """Feedback filtered by customer, product, sentiment label, topic or text; agents see their customers'."""
    stmt = select(Feedback)
    if viewer is not None and viewer.served_only:
        stmt = stmt.where(served_customer(Feedback.customer_id))
    if customer_id is not None:
        stmt = stmt.where(Feedback.customer_id == customer_id)
    if product_id is not None:
        stmt = stmt.where(Feedback.product_id == product_id)
    if sentiment:
        stmt = stmt.where(Feedback.sentiment_label == sentiment)
    if topic:
        stmt = stmt.where(Feedback.topic == topic)
    if q and q.strip():
        stmt = stmt.where(or_(func.lower(Feedback.text).like(like_pattern(q), escape="\\")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(stmt.order_by(order.nulls_last(), Feedback.id.desc()).limit(limit).offset(offset))
    return FeedbackPage(items=[FeedbackRead.model_validate(f) for f in rows], total=total)


_RECENT = (select(*Feedback.__table__.c).where(Feedback.customer_id == bindparam("cid"))
           .order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(bindparam("lim")))


def recent_for_customer(*, session: Session, customer_id: int, limit: int = 10) -> list[FeedbackRead]:
    """The customer's newest feedback."""
    return [FeedbackRead.model_validate(f) for f in session.execute(_RECENT, {"cid": customer_id, "lim": limit})]


def get(*, session: Session, feedback_id: int) -> Feedback | None:
    """The feedback ``feedback_id``, or None."""
    return session.get(Feedback, feedback_id)


def get_or_raise(*, session: Session, feedback_id: int, viewer: Principal | None = None) -> FeedbackDetail:
    """One piece of feedback with its analysis; raises ``NotFoundError``."""
    fb = session.get(Feedback, feedback_id)
    if fb is None:
        raise NotFoundError(f"No feedback with id {feedback_id}.", hint="List feedback with GET /api/feedback.")
    if viewer is not None and viewer.served_only and not session.scalar(select(served_customer(fb.customer_id))):
        raise PermissionDenied(f"Feedback {feedback_id} is from a customer you do not serve.",
                               hint="Agents see feedback of customers with a ticket or conversation.")
    return FeedbackDetail.model_validate(fb)


def analysed_count(*, session: Session) -> tuple[int, int]:
    """How many feedback rows there are, and how many carry a sentiment label."""
    total, labelled = session.execute(select(func.count(Feedback.id), func.count(Feedback.sentiment_label))).one()
    return total or 0, labelled or 0


def _month(column, session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def sentiment_by_month(*, session: Session, months: int = 24) -> list[SentimentMonth]:
    """Counts of each sentiment label per month over the last ``months`` months of feedback."""
    newest = session.scalar(select(func.max(Feedback.created_at)).where(Feedback.sentiment_label.is_not(None)))
    if newest is None:
        return []
    first = newest.year * 12 + newest.month - 1 - (months - 1)
    start = dt.datetime(first // 12, first % 12 + 1, 1)
    month = _month(Feedback.created_at, session).label("month")
    rows = session.execute(select(month, Feedback.sentiment_label, func.count())
                           .where(Feedback.created_at >= start, Feedback.sentiment_label.is_not(None))
                           .group_by(month, Feedback.sentiment_label).order_by(month))
    return [SentimentMonth(month=m, label=label, count=n) for m, label, n in rows]


def topic_counts(*, session: Session, limit: int = 15) -> list[TopicCount]:
    """The most frequent topics with their mean sentiment score."""
    rows = session.execute(select(Feedback.topic, func.count(), func.avg(Feedback.sentiment_score))
                           .where(Feedback.topic.is_not(None)).group_by(Feedback.topic)
                           .order_by(func.count().desc(), Feedback.topic).limit(limit))
    return [TopicCount(topic=t, count=n, avg_sentiment=float(s) if s is not None else None) for t, n, s in rows]


def ratings_by_month(*, session: Session, months: int = 24) -> list[RatingMonth]:
    """Feedback items and their mean star rating per month over the last ``months`` months (no text analysis
    needed: the ratings come with the feedback)."""
    newest = session.scalar(select(func.max(Feedback.created_at)))
    if newest is None:
        return []
    first = newest.year * 12 + newest.month - 1 - (months - 1)
    start = dt.datetime(first // 12, first % 12 + 1, 1)
    month = _month(Feedback.created_at, session).label("month")
    rows = session.execute(select(month, func.count(), func.avg(Feedback.rating))
                           .where(Feedback.created_at >= start).group_by(month).order_by(month))
    return [RatingMonth(month=m, count=n, mean_rating=float(r) if r is not None else None) for m, n, r in rows]


def rating_summary(*, session: Session) -> dict:
    """How many feedback items carry a rating, their mean, and the share rated 2 stars or less."""
    rated, mean, low = session.execute(
        select(func.count(Feedback.rating), func.avg(Feedback.rating),
               func.count(Feedback.rating).filter(Feedback.rating <= 2))).one()
    return {"rated": rated or 0, "mean": float(mean) if mean is not None else None,
            "low_share": (low or 0) / rated if rated else None}
