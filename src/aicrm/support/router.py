"""``/api/tickets`` and ``/api/conversations``: support."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette import status as http

from aicrm.auth.deps import SessionDep, SupportReader, SupportWriter
from aicrm.support import service
from aicrm.support.schemas import (
    ConversationDetail, ConversationPage, TicketCreate, TicketDetail, TicketPage, TicketPriority, TicketRead,
    TicketSort, TicketUpdate,
)
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

router = APIRouter(prefix="/api", tags=["support"])


@router.get("/tickets", response_model=TicketPage, responses=CSV_RESPONSE)
def list_tickets(session: SessionDep, _: SupportReader,
                 status: Annotated[str | None, Query(max_length=32, description="e.g. open, pending, closed")] = None,
                 customer_id: int | None = None, priority: TicketPriority | None = None,
                 q: Annotated[str | None, Query(max_length=200, description="Search subject and description.")] = None,
                 sort: TicketSort = "-created_at",
                 limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                 format: ExportFormat = "json"):
    """Support tickets, newest first by default."""
    return page_or_csv(lambda lim, off: service.list_tickets(session=session, status=status, customer_id=customer_id,
                                                             priority=priority, q=q, sort=sort, limit=lim, offset=off),
                       limit=limit, offset=offset, format=format, filename="tickets.csv")


@router.post("/tickets", response_model=TicketRead, status_code=http.HTTP_201_CREATED)
def create_ticket(session: SessionDep, _: SupportWriter, data: TicketCreate) -> TicketRead:
    """Open a ticket."""
    return service.create(session=session, data=data)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def get_ticket(session: SessionDep, _: SupportReader, ticket_id: int) -> TicketDetail:
    """One ticket with its transcript and conversation."""
    return service.get_or_raise(session=session, ticket_id=ticket_id)


@router.patch("/tickets/{ticket_id}", response_model=TicketRead)
def update_ticket(session: SessionDep, _: SupportWriter, ticket_id: int, data: TicketUpdate) -> TicketRead:
    """Change a ticket's status, priority, category or subject."""
    return service.update(session=session, ticket_id=ticket_id, data=data)


@router.get("/conversations", response_model=ConversationPage, responses=CSV_RESPONSE)
def list_conversations(session: SessionDep, _: SupportReader, customer_id: int | None = None,
                       status: Annotated[str | None, Query(max_length=32)] = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
                       format: ExportFormat = "json"):
    """Support conversations (chat, voice, e-mail), newest first."""
    return page_or_csv(lambda lim, off: service.list_conversations(session=session, customer_id=customer_id,
                                                                   status=status, limit=lim, offset=off),
                       limit=limit, offset=offset, format=format, filename="conversations.csv")


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
def get_conversation(session: SessionDep, _: SupportReader, conversation_id: int) -> ConversationDetail:
    """One conversation with its messages."""
    return service.get_conversation_or_raise(session=session, conversation_id=conversation_id)
