"""Response shapes for the product catalogue."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ProductSort = Literal["id", "-id", "name", "-name", "category", "-category", "unit_price", "-unit_price"]


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    name: str | None
    description: str | None
    category: str | None
    unit_price: float | None
    available: bool
    attributes: dict[str, Any] | None
    created_at: dt.datetime


class ProductPage(BaseModel):
    items: list[ProductRead]
    total: int
