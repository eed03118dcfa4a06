"""Request and response shapes of the assistant's REST API (staff, public chat and voice)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from aicrm.assistant.service import MAX_TEXT

MAX_ID = 2_147_483_647  # the store's integer keys are 32-bit on PostgreSQL


class AssistantMessageCreate(BaseModel):
    """A message to the assistant from a signed-in agent, manager or admin (on behalf of a customer, optionally)."""

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The customer's message.")
    conversation_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                        description="Continue this conversation; omit to start a new one.")
    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID,
                                    description="The customer speaking, when known (their orders are looked up).")


class AssistantReply(BaseModel):
    """The assistant's answer and what it did."""

    conversation_id: int
    reply: str
    intent: str | None = Field(description="The request the assistant acted on; null for a fallback or a question.")
    confidence: float = Field(description="The intent classifier's probability for its best intent.")
    handoff: bool = Field(description="True once a person has taken over (a ticket holds the transcript).")
    action: str = Field(description="What the assistant did, e.g. order_status, return_created, handoff, fallback.")
    ticket_id: int | None = None
    return_request_id: int | None = None
    order_number: str | None = None
    knowledge_article: str | None = None


class VoiceReply(AssistantReply):
    """The answer to a spoken message, with what was heard."""

    transcript: str
    recognition_seconds: float


class PublicMessageCreate(BaseModel):
    """A message from the public chat page (no sign-in)."""

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    conversation_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$",
                                        description="The token returned by the previous answer; omit to start.")


class PublicReply(BaseModel):
    """What the public chat page shows: no internal ids, no customer data beyond the verified order."""

    conversation_id: str
    reply: str
    intent: str | None
    confidence: float
    handoff: bool
