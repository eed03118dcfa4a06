"""Response shapes for orders and their lines."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

OrderSort = Literal["id", "-id", "ordered_at", "-ordered_at", "total_amount", "-total_amount"]


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int | None
    ordered_at: dt.datetime
    status: str
    channel: str | None
    total_amount: float | None
    currency: str | None
    shipped_at: dt.datetime | None
    delivered_at: dt.datetime | None
    promised_at: dt.datetime | None


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int


class OrderLineRead(BaseModel):
    line_no: int
    product_id: int | None
    product_name: str | None
    category: str | None
    quantity: float
    unit_price: float | None
    amount: float | None


class OrderDetail(OrderRead):
    lines: list[OrderLineRead]


class MonthRevenue(BaseModel):
    month: str
    revenue: float
    orders: int
    customers: int
