"""Response shapes for model runs, per-customer scores, recommendations and segments."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class ModelRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    model_name: str
    version: int
    algorithm: str | None
    params: dict[str, Any] | None
    metrics: dict[str, Any] | None
    fingerprint: str | None
    status: str
    trained_at: dt.datetime


class ModelRunPage(BaseModel):
    items: list[ModelRunRead]
    total: int


class ScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    model_name: str
    model_version: int
    value: float | None
    label: str | None
    explanation: dict[str, Any] | None
    scored_at: dt.datetime


class RecommendationRead(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    product_id: int
    product_name: str | None
    category: str | None
    rank: int
    score: float | None
    reason: str | None
    model_version: int


class SegmentRead(BaseModel):
    name: str
    size: int
    share: float
    avg_churn: float | None
    avg_clv: float | None


class SegmentList(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    items: list[SegmentRead]
    total: int
    model_version: int | None


class RfmCell(BaseModel):
    """One cell of the recency x frequency grid of the stored RFM segmentation (scores 1-5, 5 = best)."""

    r: int
    f: int
    customers: int
    mean_monetary: float | None
