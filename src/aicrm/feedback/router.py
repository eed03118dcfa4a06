"""``/api/feedback``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicrm.auth.deps import FeedbackReader, SessionDep
from aicrm.feedback import service
from aicrm.feedback.schemas import FeedbackDetail, FeedbackPage, FeedbackSort
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

router = APIRouter(prefix="/api/feedback", tags=["feedback"])


@router.get("", response_model=FeedbackPage, responses=CSV_RESPONSE)
def list_feedback(session: SessionDep, viewer: FeedbackReader, customer_id: int | None = None,
                  product_id: int | None = None,
                  sentiment: Annotated[str | None, Query(max_length=16, description="positive, neutral, negative")] = None,
                  topic: Annotated[str | None, Query(max_length=128)] = None,
                  q: Annotated[str | None, Query(max_length=200, description="Search the text.")] = None,
                  sort: FeedbackSort = "-created_at",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                  format: ExportFormat = "json"):
    """Reviews, survey answers and comments, newest first by default."""
    return page_or_csv(lambda lim, off: service.list_feedback(session=session, viewer=viewer, customer_id=customer_id,
                                                              product_id=product_id, sentiment=sentiment, topic=topic,
                                                              q=q, sort=sort, limit=lim, offset=off),
                       limit=limit, offset=offset, format=format, filename="feedback.csv")


@router.get("/{feedback_id}", response_model=FeedbackDetail)
def get_feedback(session: SessionDep, viewer: FeedbackReader, feedback_id: int) -> FeedbackDetail:
    """One piece of feedback with its text analysis."""
    return service.get_or_raise(session=session, feedback_id=feedback_id, viewer=viewer)
