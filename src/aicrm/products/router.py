"""``/api/products``: the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicrm.auth.deps import ProductReader, SessionDep
from aicrm.products import service
from aicrm.products.schemas import ProductPage, ProductRead, ProductSort
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

router = APIRouter(prefix="/api/products", tags=["products"])


@router.get("", response_model=ProductPage, responses=CSV_RESPONSE)
def list_products(session: SessionDep, _: ProductReader,
                  q: Annotated[str | None, Query(max_length=200, description="Search name, external id, category.")] = None,
                  category: Annotated[str | None, Query(max_length=128)] = None,
                  available: bool | None = None, sort: ProductSort = "id",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                  format: ExportFormat = "json"):
    """Products, one page at a time (or every match as CSV)."""
    return page_or_csv(lambda lim, off: service.list_products(session=session, q=q, category=category,
                                                              available=available, sort=sort, limit=lim, offset=off),
                       limit=limit, offset=offset, format=format, filename="products.csv")


@router.get("/{product_id}", response_model=ProductRead)
def get_product(session: SessionDep, _: ProductReader, product_id: int) -> ProductRead:
    """One product."""
    return service.get_or_raise(session=session, product_id=product_id)
