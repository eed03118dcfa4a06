"""Request and response shapes for customers, their notes and their 360-degree view."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from aicrm.feedback.schemas import FeedbackRead
from aicrm.ml.schemas import RecommendationRead, ScoreRead
from aicrm.orders.schemas import OrderRead
from aicrm.support.schemas import TicketRead

CustomerSort = Literal["id", "-id", "name", "-name", "external_id", "-external_id", "signup_date", "-signup_date",
                       "churn", "-churn", "clv", "-clv"]


class CustomerCreate(BaseModel):
    external_id: str | None = Field(default=None, min_length=1, max_length=128,
                                    description="The customer number in the source system (generated when absent).")
    source: str = Field(default="crm", min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=256)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[+0-9 ()./-]{3,32}$")
    country: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=128)
    gender: str | None = Field(default=None, max_length=16)
    birth_date: dt.date | None = None
    signup_date: dt.date | None = None
    attributes: dict[str, Any] | None = None


class CustomerUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=256)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[+0-9 ()./-]{3,32}$")
    country: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=128)
    gender: str | None = Field(default=None, max_length=16)
    birth_date: dt.date | None = None
    signup_date: dt.date | None = None
    attributes: dict[str, Any] | None = None


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    country: str | None
    city: str | None
    gender: str | None
    birth_date: dt.date | None
    signup_date: dt.date | None
    created_at: dt.datetime
    churn_probability: float | None = Field(default=None, description="Newest churn model's probability.")
    risk_band: str | None = None
    clv: float | None = Field(default=None, description="Expected 12-month value from the newest CLV model.")
    segment: str | None = None
    contact_masked: bool = Field(default=False, description="True when e-mail, phone and birth date are hidden.")


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    total: int


class ChurnReason(BaseModel):
    text: str
    contribution: float | None = None


class ChurnRead(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    probability: float | None
    band: str | None
    reasons: list[ChurnReason]
    model_version: int
    scored_at: dt.datetime


class ClvRead(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    value: float | None
    p_alive: float | None
    expected_purchases_90d: float | None
    model_version: int
    scored_at: dt.datetime


class CustomerNoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=5000)


class CustomerNoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    author: str | None
    text: str
    created_at: dt.datetime


class InteractionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: str | None
    type: str
    occurred_at: dt.datetime


class CustomerStats(BaseModel):
    orders: int
    spend: float
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None


class CustomerDetail(BaseModel):
    profile: CustomerRead
    attributes: dict[str, Any] | None
    stats: CustomerStats
    churn: ChurnRead | None
    clv: ClvRead | None
    segment: str | None
    scores: list[ScoreRead] = Field(description="The newest score of every model (churn, clv, segment, rfm...).")
    recommendations: list[RecommendationRead]
    orders: list[OrderRead]
    feedback: list[FeedbackRead]
    tickets: list[TicketRead]
    notes: list[CustomerNoteRead]
    interactions: list[InteractionRead]
