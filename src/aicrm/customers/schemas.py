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
    total: int = Field(description="How many customers match, over all pages.")
    next_after: str | None = Field(default=None, description="Pass as `after` (same sort and filters) for the next "
                                                               "page; null on the last page.")


class ChurnReason(BaseModel):
    text: str
    feature: str | None = Field(default=None, description="The model feature behind the reason.")
    contribution: float | None = Field(default=None, description="Its effect on this customer's churn score "
                                                                  "(log-odds; > 0 raises the risk).")


class ChurnRead(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    probability: float | None
    band: str | None
    reasons: list[ChurnReason]
    as_of: dt.date | None = Field(default=None, description="The day of data the score describes.")
    model_version: int
    scored_at: dt.datetime


class ClvRead(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    value: float | None = Field(description="Expected value over the next 12 months.")
    status: str | None = Field(default=None, description="likely active, uncertain or likely lost.")
    p_alive: float | None
    expected_purchases_30d: float | None = None
    expected_purchases_90d: float | None
    expected_purchases_365d: float | None = None
    expected_spend_per_purchase: float | None = None
    model_version: int
    scored_at: dt.datetime


class RfmRead(BaseModel):
    """The customer's recency, frequency and monetary scores (1-5, 5 = best) behind their segment."""

    cell: str = Field(description="R, F and M scores as one code, e.g. 545.")
    r: int | None
    f: int | None
    m: int | None
    recency_days: int | None = None
    frequency: int | None = None
    monetary: float | None = None


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
    rfm: RfmRead | None = None
    cluster: str | None = Field(default=None, description="The behavioural cluster's plain-language profile.")
    scores: list[ScoreRead] = Field(description="The newest score of every model (churn, clv, segment, rfm...).")
    recommendations: list[RecommendationRead]
    orders: list[OrderRead]
    feedback: list[FeedbackRead]
    tickets: list[TicketRead]
    notes: list[CustomerNoteRead]
    interactions: list[InteractionRead]
