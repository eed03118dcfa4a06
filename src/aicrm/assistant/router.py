"""``/api/assistant``: the support assistant for staff, the public chat for customers, voice; ``/chat`` page."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from aicrm.assistant import service
from aicrm.assistant.schemas import (
    MAX_ID, AssistantMessageCreate, AssistantReply, PublicMessageCreate, PublicReply, VoiceReply,
)
from aicrm.auth.deps import SessionDep, SupportWriter
from aicrm.auth.ratelimit import SlidingWindowLimiter
from aicrm.core.errors import RateLimited, ValidationFailed

router = APIRouter(tags=["assistant"], on_startup=[service.warm_up_in_background])

# Public chat limits per client address: messages in any minute, and failed order look-ups (a wrong order number
# or e-mail) in any 15 minutes, so the page cannot be used to test which e-mail addresses go with which orders.
PUBLIC_MESSAGES_PER_MINUTE = 20
PUBLIC_FAILED_LOOKUPS = 5
PUBLIC_FAILED_WINDOW_SECONDS = 15 * 60
MAX_AUDIO_BYTES = 10 * 1024 * 1024
_limits_lock = threading.Lock()


def _assistant(request: Request) -> service.Assistant:
    """The app's assistant (``app.state.assistant`` when set, e.g. by tests or a custom deployment)."""
    assistant = getattr(request.app.state, "assistant", None)
    return assistant if assistant is not None else service.get_assistant()


def _limiters(request: Request) -> tuple[SlidingWindowLimiter, SlidingWindowLimiter]:
    state = request.app.state
    with _limits_lock:
        if getattr(state, "assistant_limits", None) is None:
            state.assistant_limits = (
                SlidingWindowLimiter(max_events=PUBLIC_MESSAGES_PER_MINUTE, window_seconds=60),
                SlidingWindowLimiter(max_events=PUBLIC_FAILED_LOOKUPS, window_seconds=PUBLIC_FAILED_WINDOW_SECONDS))
        return state.assistant_limits


def _refuse_if_limited(limiter: SlidingWindowLimiter, key: tuple, message: str) -> None:
    wait = limiter.retry_after(key)
    if wait is not None:
        exc = RateLimited(message, hint=f"Wait {int(wait) + 1} seconds before sending another message.",
                          details=[{"retry_after_seconds": int(wait) + 1}])
        exc.retry_after = int(wait) + 1
        raise exc


def _reply(turn: service.AssistantTurn) -> dict:
    return {k: v for k, v in turn.to_dict().items() if k in AssistantReply.model_fields}


@router.post("/api/assistant/messages", response_model=AssistantReply)
def post_message(request: Request, session: SessionDep, _: SupportWriter, data: AssistantMessageCreate) -> AssistantReply:
    """Send a customer's message to the assistant and get its answer (a new conversation without conversation_id)."""
    turn = service.reply_to(session=session, text=data.text, conversation_id=data.conversation_id,
                            customer_id=data.customer_id, channel="chat", assistant=_assistant(request))
    return AssistantReply(**_reply(turn))


@router.post("/api/assistant/voice", response_model=VoiceReply)
def post_voice(request: Request, session: SessionDep, _: SupportWriter,
               file: Annotated[UploadFile, File(description="A WAV recording (PCM, any rate; mono or stereo).")],
               conversation_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
               customer_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None) -> VoiceReply:
    """Transcribe a spoken message offline (pocketsphinx) and answer it like a typed one."""
    from aicrm.assistant import voice

    audio = file.file.read(MAX_AUDIO_BYTES + 1)
    if len(audio) > MAX_AUDIO_BYTES:
        raise ValidationFailed(f"The recording is larger than {MAX_AUDIO_BYTES // (1024 * 1024)} MB.",
                               details=[{"field": "file", "message": "too large"}],
                               hint="Send a shorter recording (one message, under a minute).")
    heard = voice.transcribe(audio, filename=file.filename)
    if not heard.text:
        raise ValidationFailed(f"No words were recognised in {file.filename or 'the recording'}.",
                               details=[{"field": "file", "message": "no speech recognised"}],
                               hint="Speak closer to the microphone, or type the message instead.")
    turn = service.reply_to(session=session, text=heard.text, conversation_id=conversation_id,
                            customer_id=customer_id, channel="voice", assistant=_assistant(request))
    return VoiceReply(**_reply(turn), transcript=heard.text, recognition_seconds=round(heard.seconds, 3))


@router.post("/api/assistant/public/messages", response_model=PublicReply)
def post_public_message(request: Request, session: SessionDep, data: PublicMessageCreate) -> PublicReply:
    """The customers' chat (no sign-in): orders are shown only for a matching order number and e-mail; rate-limited."""
    messages, failures = _limiters(request)
    client = request.client.host if request.client else "unknown"
    _refuse_if_limited(messages, ("message", client), "Too many messages from this address.")
    _refuse_if_limited(failures, ("lookup", client), "Too many order look-ups that did not match.")
    messages.hit(("message", client))
    turn = service.reply_to(session=session, text=data.text, public_id=data.conversation_id, public=True,
                            channel="web", assistant=_assistant(request))
    if turn.verification_failed:
        failures.hit(("lookup", client))
    return PublicReply(conversation_id=turn.public_id, reply=turn.reply, intent=turn.intent,
                       confidence=turn.confidence, handoff=turn.handoff)


@router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
def chat_page(request: Request) -> Response:
    """The customers' chat page (public; talks to /api/assistant/public/messages)."""
    return request.app.state.templates.TemplateResponse(request, "assistant/chat.html", {"request": request})


@router.get("/assistant", response_class=HTMLResponse, include_in_schema=False)
def assistant_page(request: Request, user: SupportWriter, customer_id: int | None = None) -> Response:
    """The dashboard's assistant panel on a page of its own (``?customer_id=`` to speak as that customer)."""
    from aicrm.web.pages import render

    return render(request, "assistant/page.html", user=user, customer_id=customer_id)
