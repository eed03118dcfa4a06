"""Request and response shapes for tickets and support conversations."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TicketStatus = Literal["open", "pending", "resolved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketSort = Literal["id", "-id", "created_at", "-created_at", "priority", "-priority", "status", "-status"]


class TicketCreate(BaseModel):
    subject: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=20_000)
    customer_id: int | None = None
    order_id: int | None = None
    category: str | None = Field(default=None, max_length=64)
    priority: TicketPriority = "normal"
    channel: str | None = Field(default="web", max_length=32)


class TicketUpdate(BaseModel):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    category: str | None = Field(default=None, max_length=64)
    subject: str | None = Field(default=None, min_length=1, max_length=256)


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int | None
    conversation_id: int | None
    order_id: int | None
    subject: str | None
    description: str | None
    category: str | None
    status: str
    priority: str
    channel: str | None
    created_at: dt.datetime
    closed_at: dt.datetime | None


class TicketPage(BaseModel):
    items: list[TicketRead]
    total: int


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sender: str
    text: str
    intent: str | None
    confidence: float | None
    created_at: dt.datetime


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    source: str
    external_id: str
    customer_id: int | None
    channel: str
    status: str
    handoff: bool
    started_at: dt.datetime


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    total: int


class ConversationDetail(ConversationRead):
    messages: list[MessageRead]
    state: dict[str, Any] | None = None


class TicketDetail(TicketRead):
    transcript: str | None
    messages: list[MessageRead] = Field(default_factory=list, description="The linked conversation, if any.")
