"""Support tickets and conversations: list, read, open and update tickets; who an agent serves."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, bindparam, case, exists, func, or_, select
from sqlalchemy.orm import Session

from aicrm.core.db import utcnow
from aicrm.core.errors import NotFoundError, ValidationFailed
from aicrm.customers.models import Customer
from aicrm.orders.models import Order
from aicrm.support.models import Conversation, Message, Ticket
from aicrm.support.schemas import (
    ConversationDetail, ConversationPage, ConversationRead, MessageRead, TicketCreate, TicketDetail, TicketPage,
    TicketRead, TicketUpdate,
)

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
CLOSED = ("resolved", "closed")


def served_customer(customer_id) -> ColumnElement[bool]:
    """SQL condition: the customer has a ticket or a conversation, i.e. an agent serves them."""
    return or_(exists().where(Ticket.customer_id == customer_id),
               exists().where(Conversation.customer_id == customer_id))


def _ticket_sort(sort: str):
    key = sort.lstrip("-")
    column = {"id": Ticket.id, "created_at": Ticket.created_at, "status": Ticket.status,
              "priority": case(PRIORITY_RANK, value=Ticket.priority, else_=1)}[key]
    return column.desc() if sort.startswith("-") else column.asc()


def list_tickets(*, session: Session, status: str | None = None, customer_id: int | None = None,
                 priority: str | None = None, q: str | None = None, sort: str = "-created_at", limit: int = 50,
                 offset: int = 0) -> TicketPage:
    """Tickets filtered by status, customer, priority or a search of subject and description."""
    stmt = select(Ticket)
    if status:
        stmt = stmt.where(Ticket.status == status)
    if customer_id is not None:
        stmt = stmt.where(Ticket.customer_id == customer_id)
    if priority:
        stmt = stmt.where(Ticket.priority == priority)
    if q and q.strip():
        from aicrm.products.service import like_pattern

        pattern = like_pattern(q)
        stmt = stmt.where(or_(func.lower(Ticket.subject).like(pattern, escape="\\"),
                              func.lower(Ticket.description).like(pattern, escape="\\")))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(_ticket_sort(sort), Ticket.id.desc()).limit(limit).offset(offset))
    return TicketPage(items=[TicketRead.model_validate(t) for t in rows], total=total)


_RECENT = (select(*Ticket.__table__.c).where(Ticket.customer_id == bindparam("cid"))
           .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(bindparam("lim")))


def recent_for_customer(*, session: Session, customer_id: int, limit: int = 10) -> list[TicketRead]:
    """The customer's newest tickets."""
    return [TicketRead.model_validate(t) for t in session.execute(_RECENT, {"cid": customer_id, "lim": limit})]


def get(*, session: Session, ticket_id: int) -> Ticket | None:
    """The ticket ``ticket_id``, or None."""
    return session.get(Ticket, ticket_id)


def _ticket_or_raise(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFoundError(f"No ticket with id {ticket_id}.", hint="List tickets with GET /api/tickets.")
    return ticket


def _messages(session: Session, conversation_id: int | None) -> list[MessageRead]:
    if conversation_id is None:
        return []
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                           .order_by(Message.created_at, Message.id).limit(500))
    return [MessageRead.model_validate(m) for m in rows]


def get_or_raise(*, session: Session, ticket_id: int) -> TicketDetail:
    """The ticket with its transcript and linked conversation; raises ``NotFoundError``."""
    ticket = _ticket_or_raise(session, ticket_id)
    return TicketDetail.model_validate({**TicketRead.model_validate(ticket).model_dump(),
                                        "transcript": ticket.transcript,
                                        "messages": _messages(session, ticket.conversation_id)})


def create(*, session: Session, data: TicketCreate) -> TicketRead:
    """Open a ticket; raises ``ValidationFailed`` when the customer or order does not exist."""
    if data.customer_id is not None and session.get(Customer, data.customer_id) is None:
        raise ValidationFailed(f"No customer with id {data.customer_id}.",
                               details=[{"field": "customer_id", "message": "unknown customer"}],
                               hint="Search customers with GET /api/customers?q=...")
    if data.order_id is not None and session.get(Order, data.order_id) is None:
        raise ValidationFailed(f"No order with id {data.order_id}.",
                               details=[{"field": "order_id", "message": "unknown order"}],
                               hint="List the customer's orders with GET /api/orders?customer_id=...")
    ticket = Ticket(source="aicrm", external_id=f"t-{uuid.uuid4().hex[:16]}", status="open", **data.model_dump())
    session.add(ticket)
    session.commit()
    return TicketRead.model_validate(ticket)


def update(*, session: Session, ticket_id: int, data: TicketUpdate) -> TicketRead:
    """Change a ticket's status, priority, category or subject (closing stamps ``closed_at``)."""
    ticket = _ticket_or_raise(session, ticket_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "status" in changes:
        if changes["status"] in CLOSED and ticket.status not in CLOSED:
            ticket.closed_at = utcnow()
        elif changes["status"] not in CLOSED:
            ticket.closed_at = None
    for key, value in changes.items():
        setattr(ticket, key, value)
    session.commit()
    return TicketRead.model_validate(ticket)


def status_counts(*, session: Session) -> dict[str, int]:
    """How many tickets are in each status."""
    return {s: n for s, n in session.execute(select(Ticket.status, func.count()).group_by(Ticket.status))}


def list_conversations(*, session: Session, customer_id: int | None = None, status: str | None = None,
                       limit: int = 50, offset: int = 0) -> ConversationPage:
    """Support conversations, newest first."""
    stmt = select(Conversation)
    if customer_id is not None:
        stmt = stmt.where(Conversation.customer_id == customer_id)
    if status:
        stmt = stmt.where(Conversation.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Conversation.started_at.desc(), Conversation.id.desc())
                           .limit(limit).offset(offset))
    return ConversationPage(items=[ConversationRead.model_validate(c) for c in rows], total=total)


def get_conversation_or_raise(*, session: Session, conversation_id: int) -> ConversationDetail:
    """A conversation with its messages; raises ``NotFoundError``."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFoundError(f"No conversation with id {conversation_id}.",
                            hint="List conversations with GET /api/conversations.")
    return ConversationDetail.model_validate({**ConversationRead.model_validate(conv).model_dump(),
                                              "state": conv.state, "messages": _messages(session, conv.id)})
