"""Read the product catalogue."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aicrm.core.errors import NotFoundError
from aicrm.products.models import Product
from aicrm.products.schemas import ProductPage, ProductRead

SORTS = {"id": Product.id, "name": Product.name, "category": Product.category, "unit_price": Product.unit_price}


def like_pattern(text: str) -> str:
    """A case-insensitive ``LIKE`` pattern matching ``text`` anywhere, with wildcards in ``text`` escaped."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def get(*, session: Session, product_id: int) -> Product | None:
    """The product ``product_id``, or None."""
    return session.get(Product, product_id)


def get_or_raise(*, session: Session, product_id: int) -> ProductRead:
    """The product ``product_id``; raises ``NotFoundError``."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFoundError(f"No product with id {product_id}.", hint="List products with GET /api/products.")
    return ProductRead.model_validate(product)


def list_products(*, session: Session, q: str | None = None, category: str | None = None,
                  available: bool | None = None, sort: str = "id", limit: int = 50, offset: int = 0) -> ProductPage:
    """Products matching a search on name, external id or category, one page at a time."""
    stmt = select(Product)
    if q and q.strip():
        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Product.name).like(pattern, escape="\\"),
                              func.lower(Product.external_id).like(pattern, escape="\\"),
                              func.lower(Product.category).like(pattern, escape="\\")))
    if category:
        stmt = stmt.where(Product.category == category)
    if available is not None:
        stmt = stmt.where(Product.available.is_(available))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(stmt.order_by(order.nulls_last(), Product.id).limit(limit).offset(offset))
    return ProductPage(items=[ProductRead.model_validate(p) for p in rows], total=total)
