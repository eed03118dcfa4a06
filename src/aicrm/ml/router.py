"""``/api/models`` (the model registry) and ``/api/segments``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicrm.auth.deps import AnalyticsReader, SessionDep
from aicrm.ml import service
from aicrm.ml.schemas import ModelRunPage, ModelRunRead, SegmentList
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

# Tags per route, not per router: a router tag is added to every route's own, and /api/segments (a customers
# question) would show twice in the API docs.
router = APIRouter(prefix="/api")


@router.get("/models", response_model=ModelRunPage, responses=CSV_RESPONSE, tags=["models"])
def list_model_runs(session: SessionDep, _: AnalyticsReader,
                    model_name: Annotated[str | None, Query(max_length=64, description="e.g. churn, clv")] = None,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                    format: ExportFormat = "json"):
    """Model runs (training history with parameters and metrics), newest first."""
    return page_or_csv(lambda lim, off: service.list_runs(session=session, model_name=model_name, limit=lim,
                                                          offset=off),
                       limit=limit, offset=offset, format=format, filename="model_runs.csv")


@router.get("/models/{run_id}", response_model=ModelRunRead, tags=["models"])
def get_model_run(session: SessionDep, _: AnalyticsReader, run_id: int) -> ModelRunRead:
    """One model run."""
    return service.get_run_or_raise(session=session, run_id=run_id)


@router.get("/segments", response_model=SegmentList, tags=["customers"], responses=CSV_RESPONSE)
def list_segments(session: SessionDep, _: AnalyticsReader, format: ExportFormat = "json"):
    """Customer segments of the newest segmentation: name, size, share, mean churn risk and mean CLV."""
    result = service.list_segments(session=session)
    return page_or_csv(lambda lim, off: result if off == 0 else result.model_copy(update={"items": []}),
                       limit=len(result.items) or 1, offset=0, format=format, filename="segments.csv")
