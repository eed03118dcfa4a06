"""``/api/orders``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from aicrm.auth.deps import OrderReader, SessionDep
from aicrm.orders import service
from aicrm.orders.schemas import OrderDetail, OrderPage, OrderSort
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.get("", response_model=OrderPage, responses=CSV_RESPONSE)
def list_orders(session: SessionDep, viewer: OrderReader, customer_id: int | None = None,
                status: Annotated[str | None, Query(max_length=32)] = None,
                since: Annotated[dt.datetime | None, Query(description="Ordered at or after (ISO 8601).")] = None,
                until: Annotated[dt.datetime | None, Query(description="Ordered before (ISO 8601).")] = None,
                sort: OrderSort = "-ordered_at",
                limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                format: ExportFormat = "json"):
    """Orders, newest first by default (agents: only those of customers they serve)."""
    return page_or_csv(lambda lim, off: service.list_orders(session=session, viewer=viewer, customer_id=customer_id,
                                                            status=status, since=since, until=until, sort=sort,
                                                            limit=lim, offset=off),
                       limit=limit, offset=offset, format=format, filename="orders.csv")


@router.get("/{order_id}", response_model=OrderDetail)
def get_order(session: SessionDep, viewer: OrderReader, order_id: int) -> OrderDetail:
    """One order with its lines."""
    return service.get_or_raise(session=session, order_id=order_id, viewer=viewer)
