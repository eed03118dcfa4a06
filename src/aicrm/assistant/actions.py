"""The assistant's actions: the only part of the assistant that reads or writes the store.

The dialogue policy decides *what* to do; these functions do it against the domain tables (orders, return requests,
tickets, customers, products) and return plain facts or the rows they wrote. They never read the dialogue state, so
they can be called (and tested) on their own. They flush but do not commit: the assistant's service commits a whole
turn (both messages, the state and whatever the actions wrote) in one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicrm.core.db import utcnow
from aicrm.core.errors import NotFoundError, ValidationFailed
from aicrm.customers.models import Customer
from aicrm.orders.models import Order, OrderLine, ReturnRequest
from aicrm.orders.schemas import OrderRead
from aicrm.products.models import Product
from aicrm.support.models import Message, Ticket

TICKET_SOURCE = "assistant"
CURRENCY_SIGNS = {"GBP": "£", "EUR": "€", "USD": "$"}
OPEN_ORDER_STATUSES = ("processing", "shipped", "pending", "pending_payment", "on_hold")
OPEN_RETURN_STATUSES = ("requested", "approved", "in_transit", "received")
RETURN_WINDOW_DAYS = 30
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d ()./-]{5,28}\d(?!\w)")


# ---------------------------------------------------------------------------------------------------- formatting
def format_date(value: dt.datetime | dt.date | None) -> str:
    """``2 Dec 2026`` (the store keeps UTC; a day is precise enough for a customer)."""
    if value is None:
        return "an unknown date"
    return f"{value.day} {value:%b %Y}"


def format_amount(amount: float | None, currency: str | None) -> str:
    """``£50.12`` or ``50.12 CHF``; empty when the amount is unknown."""
    if amount is None:
        return ""
    sign = CURRENCY_SIGNS.get((currency or "").upper())
    return f"{sign}{amount:,.2f}" if sign else f"{amount:,.2f} {currency or ''}".strip()


def describe_order(order: OrderRead, *, now: dt.datetime | None = None) -> str:
    """One or two sentences with the order's real status and dates."""
    now = now or utcnow()
    name, status = order.external_id, (order.status or "").lower()
    placed = format_date(order.ordered_at)

    def due() -> str:
        if order.promised_at is None:
            return ""
        if order.promised_at < now:
            return f" It was due by {format_date(order.promised_at)}, so it is running late: sorry about that."
        return f" It is due by {format_date(order.promised_at)}."

    if status == "processing":
        return f"Order {name}, placed on {placed}, is being prepared and has not shipped yet.{due()}"
    if status == "shipped":
        shipped = f" on {format_date(order.shipped_at)}" if order.shipped_at else ""
        return f"Order {name} was shipped{shipped} and is on its way.{due()}"
    if status == "delivered":
        text = f"Order {name}, placed on {placed}, was delivered on {format_date(order.delivered_at)}."
        if order.delivered_at and order.promised_at and order.delivered_at.date() > order.promised_at.date():
            text += f" That was later than the promised {format_date(order.promised_at)}, sorry."
        return text
    if status == "returned":
        return f"Order {name} is recorded as returned ({placed})."
    if status in ("cancelled", "canceled"):
        return f"Order {name}, placed on {placed}, was cancelled."
    extra = f" It was delivered on {format_date(order.delivered_at)}." if order.delivered_at else (
        f" It was shipped on {format_date(order.shipped_at)}." if order.shipped_at else "")
    return f"Order {name}, placed on {placed}, has the status \u201c{order.status}\u201d.{extra}"


def short_order(order: OrderRead) -> str:
    """``ORD-100123 (2 Dec 2026, £50.12, shipped)`` for lists the customer chooses from."""
    amount = format_amount(order.total_amount, order.currency)
    return f"{order.external_id} ({format_date(order.ordered_at)}{', ' + amount if amount else ''}, {order.status})"


# ---------------------------------------------------------------------------------------------------- orders
def order_number_candidates(value: str) -> list[str]:
    """The external ids an order number may stand for: as written, and with or without the ``ORD-`` prefix."""
    value = value.strip().lstrip("#").upper()
    out = [value]
    digits = re.fullmatch(r"(?:ORD(?:ER)?-?)?(\d+)", value)
    if digits:
        out += [f"ORD-{digits.group(1)}", digits.group(1), f"ORD{digits.group(1)}"]
    return list(dict.fromkeys(out))


def find_order(*, session: Session, order_number: str, customer_id: int | None = None) -> OrderRead | None:
    """The order with this number (the customer's own first when several sources share it), or None."""
    stmt = select(Order).where(func.upper(Order.external_id).in_(order_number_candidates(order_number)))
    rows = session.scalars(stmt.order_by(Order.id).limit(20)).all()
    if not rows:
        return None
    mine = [o for o in rows if customer_id is not None and o.customer_id == customer_id]
    return OrderRead.model_validate((mine or rows)[0])


def find_order_by_email(*, session: Session, order_number: str, email: str) -> OrderRead | None:
    """The order with this number whose customer's e-mail on file is ``email``; None when either does not match.

    The two failures are deliberately indistinguishable, so a stranger cannot learn whether an order number exists.
    """
    email = email.strip().lower()
    if not email:
        return None
    stmt = (select(Order).join(Customer, Customer.id == Order.customer_id)
            .where(func.upper(Order.external_id).in_(order_number_candidates(order_number)),
                   func.lower(Customer.email) == email).order_by(Order.id).limit(1))
    order = session.scalars(stmt).first()
    return OrderRead.model_validate(order) if order is not None else None


def get_order(*, session: Session, order_id: int) -> OrderRead | None:
    """The order ``order_id``, or None."""
    order = session.get(Order, order_id)
    return OrderRead.model_validate(order) if order is not None else None


def recent_orders(*, session: Session, customer_id: int, days: int = 14, limit: int = 5) -> list[OrderRead]:
    """The customer's orders placed within ``days`` of their newest one, newest first (returns rows excluded)."""
    base = select(Order).where(Order.customer_id == customer_id, Order.status != "returned")
    newest = session.scalar(select(func.max(Order.ordered_at)).where(Order.customer_id == customer_id,
                                                                     Order.status != "returned"))
    if newest is None:
        return []
    rows = session.scalars(base.where(Order.ordered_at >= newest - dt.timedelta(days=days))
                           .order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit))
    return [OrderRead.model_validate(o) for o in rows]


def order_products(*, session: Session, order_id: int, limit: int = 3) -> list[str]:
    """Names of the products on an order (for a friendlier answer)."""
    rows = session.scalars(select(Product.name).join(OrderLine, OrderLine.product_id == Product.id)
                           .where(OrderLine.order_id == order_id, OrderLine.quantity > 0)
                           .order_by(OrderLine.line_no).limit(limit))
    return [r for r in rows if r]


# ---------------------------------------------------------------------------------------------------- returns
def open_return(*, session: Session, order: OrderRead, reason: str | None) -> tuple[ReturnRequest, bool]:
    """A return request for the order: the open one if it exists (False), else a new one (True)."""
    existing = session.scalars(select(ReturnRequest).where(ReturnRequest.order_id == order.id,
                                                           ReturnRequest.status.in_(OPEN_RETURN_STATUSES))
                               .order_by(ReturnRequest.id).limit(1)).first()
    if existing is not None:
        return existing, False
    request = ReturnRequest(order_id=order.id, customer_id=order.customer_id, status="requested",
                            reason=(reason or "").strip()[:2000] or None)
    session.add(request)
    session.flush()
    return request, True


def outside_return_window(order: OrderRead, *, now: dt.datetime | None = None) -> bool:
    """Whether the order was delivered more than ``RETURN_WINDOW_DAYS`` ago."""
    now = now or utcnow()
    return order.delivered_at is not None and order.delivered_at < now - dt.timedelta(days=RETURN_WINDOW_DAYS)


# ---------------------------------------------------------------------------------------------------- tickets
def transcript(*, session: Session, conversation_id: int) -> str:
    """The conversation as text, one message a line: ``2026-12-02 14:01:07 customer: where is my parcel?``."""
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                           .order_by(Message.created_at, Message.id))
    return "\n".join(f"{m.created_at:%Y-%m-%d %H:%M:%S} {m.sender}: {m.text}" for m in rows)


def open_ticket(*, session: Session, conversation_id: int | None, customer_id: int | None, order_id: int | None,
                subject: str, category: str | None, priority: str = "normal", description: str | None = None,
                channel: str = "chat") -> Ticket:
    """A new open ticket linked to the conversation, carrying its transcript so far."""
    ticket = Ticket(source=TICKET_SOURCE, external_id=f"chat-{uuid.uuid4().hex[:16]}", customer_id=customer_id,
                    conversation_id=conversation_id, order_id=order_id, subject=subject[:256], category=category,
                    status="open", priority=priority, channel=channel, description=description,
                    transcript=transcript(session=session, conversation_id=conversation_id)
                    if conversation_id is not None else None)
    session.add(ticket)
    session.flush()
    return ticket


# ---------------------------------------------------------------------------------------------------- customers
def email_on_file_matches(*, session: Session, customer_id: int, email: str) -> bool:
    """Whether ``email`` is the customer's e-mail on file (case-insensitive)."""
    on_file = session.scalar(select(Customer.email).where(Customer.id == customer_id))
    return bool(on_file) and on_file.strip().lower() == email.strip().lower()


def find_phone(text: str) -> str | None:
    """A phone number written in ``text`` (7 to 15 digits, spaces and dashes allowed), or None."""
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 7 <= len(digits) <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", m.group(0)):
            return m.group(0).strip()
    return None


def update_contact(*, session: Session, customer_id: int, phone: str | None = None, email: str | None = None) -> None:
    """Change the customer's phone or e-mail through the customers service; raises ``ValidationFailed``."""
    from aicrm.customers import service as customers_service
    from aicrm.customers.schemas import CustomerUpdate

    changes = {k: v for k, v in (("phone", phone), ("email", email)) if v}
    if not changes:
        raise ValidationFailed("Nothing to change", hint="Give a new phone number or e-mail address.")
    try:
        data = CustomerUpdate(**changes)
    except ValidationError as exc:
        field = exc.errors()[0]["loc"][0]
        raise ValidationFailed(f"That {field} does not look valid.",
                               hint="Phone numbers may hold digits, spaces, +, (, ), ., / and -.") from None
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"No customer with id {customer_id}.")
    customers_service.update(session=session, customer_id=customer_id, data=data)


def customer_name(*, session: Session, customer_id: int) -> str | None:
    """The customer's first name, for a greeting."""
    name = session.scalar(select(Customer.name).where(Customer.id == customer_id))
    return name.split()[0] if name and name.strip() else None


# ---------------------------------------------------------------------------------------------------- products
def product_names(*, session: Session, limit: int = 20_000) -> list[str]:
    """Names of the catalogue's products (for recognising them in messages)."""
    return [n for n in session.scalars(select(Product.name).where(Product.name.is_not(None)).limit(limit)) if n]


def store_currency(*, session: Session) -> str | None:
    """The currency most orders are in (products carry no currency of their own)."""
    return session.scalar(select(Order.currency).where(Order.currency.is_not(None)).group_by(Order.currency)
                          .order_by(func.count().desc()).limit(1))


def describe_product(*, session: Session, names: Sequence[str]) -> str | None:
    """Price, category and availability of the named products, or None when none is in the catalogue."""
    parts = []
    currency = store_currency(session=session) if names else None
    for name in list(dict.fromkeys(names))[:3]:
        product = session.scalars(select(Product).where(Product.name == name).limit(1)).first()
        if product is None:
            continue
        price = f" costs {format_amount(product.unit_price, currency)}" if product.unit_price is not None else ""
        category = f" (in {product.category})" if product.category else ""
        stock = "is in stock" if product.available else "is currently unavailable"
        parts.append(f"{product.name}{category}{price} and {stock}." if price else f"{product.name}{category} {stock}.")
    return " ".join(parts) or None
