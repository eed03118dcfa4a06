"""Model runs (the registry), per-customer scores and stored recommendations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aicrm.core.db import Base, utcnow


class ModelRun(Base):
    __tablename__ = "model_runs"
    __table_args__ = (Index("ix_model_runs_name_version", "model_name", "version", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    algorithm: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None]
    metrics: Mapped[dict[str, Any] | None]
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    artifact_path: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16), default="trained")
    trained_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CustomerScore(Base):
    __tablename__ = "customer_scores"
    __table_args__ = (
        Index("ix_customer_scores_version", "model_name", "model_version"),
        Index("ix_customer_scores_customer", "customer_id", "model_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(64))  # churn | clv | segment | rfm | ...
    model_version: Mapped[int]
    value: Mapped[float | None]
    label: Mapped[str | None] = mapped_column(String(64))  # risk band, segment name...
    explanation: Mapped[dict[str, Any] | None]
    scored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (Index("ix_recommendations_lookup", "customer_id", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    model_version: Mapped[int]
    rank: Mapped[int]
    score: Mapped[float | None]
    reason: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StoreMetadata(Base):
    """Free key/value facts about the store, e.g. the demo simulator's true parameters."""

    __tablename__ = "store_metadata"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any] | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProductAssociation(Base):
    """"Customers who bought this also bought": the newest version per product is the one shown."""

    __tablename__ = "product_associations"
    __table_args__ = (Index("ix_product_associations_lookup", "product_id", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    similar_product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    model_version: Mapped[int]
    rank: Mapped[int]
    score: Mapped[float | None]
