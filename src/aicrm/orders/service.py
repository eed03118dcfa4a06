"""Read orders, their lines, and the revenue and recency figures the dashboard charts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, bindparam, func, select
from sqlalchemy.orm import Session

from aicrm.auth.policy import Principal
from aicrm.core.errors import NotFoundError, PermissionDenied
from aicrm.orders.models import Order, OrderLine
from aicrm.orders.schemas import MonthRevenue, OrderDetail, OrderLineRead, OrderPage, OrderRead
from aicrm.products.models import Product
from aicrm.support.service import served_customer

SORTS = {"id": Order.id, "ordered_at": Order.ordered_at, "total_amount": Order.total_amount}
NOT_REVENUE = ("cancelled", "canceled")


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """The store keeps naive UTC timestamps; compare like with like."""
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def list_orders(*, session: Session, viewer: Principal | None = None, customer_id: int | None = None,
                status: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
                sort: str = "-ordered_at", limit: int = 50, offset: int = 0) -> OrderPage:
    """Orders filtered by customer, status and time; an agent sees only the orders of customers they serve."""
    stmt = select(Order)
    if viewer is not None and viewer.served_only:
        stmt = stmt.where(served_customer(Order.customer_id))
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if status:
        stmt = stmt.where(Order.status == status)
    if since is not None:
        stmt = stmt.where(Order.ordered_at >= _naive_utc(since))
    if until is not None:
        stmt = stmt.where(Order.ordered_at < _naive_utc(until))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    column = SORTS[sort.lstrip("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(stmt.order_by(order.nulls_last(), Order.id.desc()).limit(limit).offset(offset))
    return OrderPage(items=[OrderRead.model_validate(o) for o in rows], total=total)


# Built once: the 360-degree view runs these on every request, and building a statement costs more than running it.
_RECENT = (select(*Order.__table__.c).where(Order.customer_id == bindparam("cid"))
           .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(bindparam("lim")))
_STATS = select(func.count(Order.id), func.sum(Order.total_amount), func.min(Order.ordered_at),
                func.max(Order.ordered_at)).where(Order.customer_id == bindparam("cid"),
                                                  Order.status.not_in(NOT_REVENUE))


def recent_for_customer(*, session: Session, customer_id: int, limit: int = 10) -> list[OrderRead]:
    """The customer's newest orders."""
    return [OrderRead.model_validate(o) for o in session.execute(_RECENT, {"cid": customer_id, "lim": limit})]


def customer_order_stats(*, session: Session, customer_id: int) -> dict:
    """Number of orders, total spend, first and last order date of one customer."""
    row = session.execute(_STATS, {"cid": customer_id}).one()
    return {"orders": row[0] or 0, "spend": float(row[1] or 0.0), "first_order_at": row[2], "last_order_at": row[3]}


def get(*, session: Session, order_id: int) -> Order | None:
    """The order ``order_id``, or None."""
    return session.get(Order, order_id)


def get_or_raise(*, session: Session, order_id: int, viewer: Principal | None = None) -> OrderDetail:
    """The order with its lines; raises ``NotFoundError`` (or ``PermissionDenied`` for an agent's non-customer)."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFoundError(f"No order with id {order_id}.", hint="List orders with GET /api/orders.")
    if viewer is not None and viewer.served_only and not session.scalar(select(served_customer(order.customer_id))):
        raise PermissionDenied(f"Order {order_id} belongs to a customer you do not serve.",
                               hint="Agents see the orders of customers with a ticket or conversation.")
    lines = session.execute(select(OrderLine, Product.name, Product.category)
                            .outerjoin(Product, Product.id == OrderLine.product_id)
                            .where(OrderLine.order_id == order_id).order_by(OrderLine.line_no))
    return OrderDetail.model_validate({
        **OrderRead.model_validate(order).model_dump(),
        "lines": [OrderLineRead(line_no=ln.line_no, product_id=ln.product_id, product_name=name, category=cat,
                                quantity=ln.quantity, unit_price=ln.unit_price, amount=ln.amount)
                  for ln, name, cat in lines]})


def store_as_of(*, session: Session) -> dt.datetime | None:
    """The time of the newest order: "now" for a store whose history ended in the past (e.g. CDNOW, 1998)."""
    return session.scalar(select(func.max(Order.ordered_at)))


def _month(column, engine: Engine):
    if engine.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def revenue_by_month(*, session: Session, months: int = 24) -> list[MonthRevenue]:
    """Revenue, orders and buying customers per calendar month over the store's last ``months`` months."""
    as_of = store_as_of(session=session)
    if as_of is None:
        return []
    first = as_of.year * 12 + as_of.month - 1 - (months - 1)
    start = dt.datetime(first // 12, first % 12 + 1, 1)
    month = _month(Order.ordered_at, session.get_bind()).label("month")
    rows = session.execute(select(month, func.sum(Order.total_amount), func.count(Order.id),
                                  func.count(func.distinct(Order.customer_id)))
                           .where(Order.ordered_at >= start, Order.status.not_in(NOT_REVENUE))
                           .group_by(month).order_by(month))
    return [MonthRevenue(month=m, revenue=float(r or 0.0), orders=n, customers=c) for m, r, n, c in rows]


def active_customers(*, session: Session, days: int = 90) -> int:
    """Customers who ordered in the ``days`` before the store's newest order."""
    as_of = store_as_of(session=session)
    if as_of is None:
        return 0
    return session.scalar(select(func.count(func.distinct(Order.customer_id)))
                          .where(Order.ordered_at > as_of - dt.timedelta(days=days))) or 0


def totals(*, session: Session) -> dict:
    """Number of orders and total revenue in the store."""
    n, revenue = session.execute(select(func.count(Order.id), func.sum(Order.total_amount))
                                 .where(Order.status.not_in(NOT_REVENUE))).one()
    return {"orders": n or 0, "revenue": float(revenue or 0.0)}


def customer_rfm_stats(*, session: Session) -> list[tuple[int, float, int, float]]:
    """Per buying customer: days since last order (to the store's newest order), orders and spend."""
    as_of = store_as_of(session=session)
    if as_of is None:
        return []
    rows = session.execute(select(Order.customer_id, func.max(Order.ordered_at), func.count(Order.id),
                                  func.sum(Order.total_amount))
                           .where(Order.customer_id.is_not(None), Order.status.not_in(NOT_REVENUE))
                           .group_by(Order.customer_id))
    return [(cid, (as_of - last).total_seconds() / 86400.0, n, float(m or 0.0)) for cid, last, n, m in rows]
