"""One assistant turn end to end: store the message, understand it, let the policy decide, act, store the reply.

Every face (REST API, public chat page, dashboard panel, ``aicrm assistant chat``, voice) calls :func:`reply_to`.
A turn is one transaction: both messages, the conversation's state and whatever the actions wrote (a return
request, a ticket, a changed phone number) are committed together or not at all.
"""

from __future__ import annotations

import logging
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aicrm.assistant import actions
from aicrm.assistant.dialogue import Context, Decision, DialoguePolicy, DialogueState
from aicrm.assistant.entities import ProductMatcher
from aicrm.assistant.knowledge import KnowledgeBase, KnowledgeHit, load_default_knowledge
from aicrm.assistant.nlu import IntentClassifier, Understanding, load_default_nlu
from aicrm.core.config import get_settings
from aicrm.core.errors import NotFoundError, ValidationFailed
from aicrm.customers.models import Customer
from aicrm.orders.schemas import OrderRead
from aicrm.products.models import Product
from aicrm.support.models import Conversation, Message, Ticket

SOURCE = "assistant"  # conversations started by staff, the CLI or voice
PUBLIC_SOURCE = "assistant-public"  # conversations of the public chat page, addressed by an unguessable token
MAX_TEXT = 2000
CHANNELS = ("chat", "voice", "cli", "web")


@dataclass
class AssistantTurn:
    """What one turn produced, for every face to show."""

    conversation_id: int
    public_id: str
    reply: str
    intent: str | None
    confidence: float
    handoff: bool
    action: str
    ticket_id: int | None = None
    return_request_id: int | None = None
    order_number: str | None = None
    knowledge_article: str | None = None
    verification_failed: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------- the assistant
class Assistant:
    """The stateless parts of the assistant: understanding, help articles, sentiment and the dialogue policy.

    Built once per process (loading the intent classifier takes a second, training it on first use longer) and
    shared by all conversations; their state lives in the store.
    """

    def __init__(self, *, nlu: IntentClassifier | None = None, knowledge: KnowledgeBase | None = None,
                 policy: DialoguePolicy | None = None, embeddings: bool | None = None,
                 cache_dir: str | Path | None = None):
        self.nlu = nlu or load_default_nlu(embeddings=embeddings, cache_dir=cache_dir)
        self.knowledge = knowledge or load_default_knowledge(embeddings=self.nlu.use_embeddings_)
        self.policy = policy or DialoguePolicy()
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        # aicrm.nlp has no sentiment function yet; VADER (its planned engine for English) is called directly.
        self._vader = SentimentIntensityAnalyzer()
        self._products: tuple[tuple, ProductMatcher | None] = ((), None)
        self._lock = threading.Lock()

    def understand(self, text: str, *, products: ProductMatcher | None = None) -> Understanding:
        """Intent, confidence, ranking and entities of one message."""
        with _few_threads(self.nlu.use_embeddings_):
            return self.nlu.parse(text, products=products)

    def search_knowledge(self, text: str) -> KnowledgeHit | None:
        """The help article answering ``text``, or None."""
        with _few_threads(self.knowledge.backend_ == "minilm"):
            return self.knowledge.answer(text)

    def sentiment(self, text: str) -> float:
        """VADER compound score in [-1, 1] (below -0.7: a very unhappy customer)."""
        return float(self._vader.polarity_scores(text)["compound"])

    def products(self, session: Session) -> ProductMatcher | None:
        """The catalogue's product matcher, rebuilt when the catalogue changes."""
        key = tuple(session.execute(select(func.count(Product.id), func.max(Product.id))).one())
        with self._lock:
            if key != self._products[0]:
                names = actions.product_names(session=session)
                self._products = (key, ProductMatcher(names) if names else None)
            return self._products[1]


_build_lock = threading.Lock()


def get_assistant() -> Assistant:
    """The process-wide assistant with the shipped intents and help articles.

    ``AICRM_ASSISTANT_EMBEDDINGS=0`` makes it use TF-IDF instead of MiniLM sentence embeddings (starts in a second,
    needs no torch); ``1`` requires the embeddings; unset uses them when the ``nlp`` extra is installed.
    """
    flag = get_settings().assistant_embeddings.strip().lower()
    embeddings = None if flag in ("", "auto") else flag in ("1", "true", "yes", "on")
    # One build at a time: concurrent first requests would each load (or train) the models.
    with _build_lock:
        return _assistant(embeddings)


@lru_cache(maxsize=2)
def _assistant(embeddings: bool | None) -> Assistant:
    return Assistant(embeddings=embeddings)


def warm_up_in_background() -> threading.Thread | None:
    """Build the process-wide assistant in a daemon thread, so the first message does not wait for the models.

    Loading MiniLM and the intent classifier takes seconds (training it on first use, half a minute). Skipped when
    ``AICRM_ASSISTANT_WARM_UP=0``.
    """
    if not get_settings().assistant_warm_up:
        return None

    def build() -> None:
        try:
            get_assistant()
        except Exception:  # the first request will raise it again, with the error handler's message
            logging.getLogger(__name__).warning("The assistant could not be warmed up", exc_info=True)

    thread = threading.Thread(target=build, name="aicrm-assistant-warm-up", daemon=True)
    thread.start()
    return thread


@contextmanager
def _few_threads(active: bool):
    """One torch thread while encoding a single message.

    On a busy 2-core machine torch's default intra-op threads fight each other: one MiniLM sentence took 330 ms
    median with 2 threads and 28 ms with 1 (measured while other jobs ran). Batch encoding elsewhere keeps its threads.
    """
    if not active or get_settings().assistant_torch_threads == "default":
        yield
        return
    import torch

    global _single_users, _threads_before
    with _threads_lock:  # the setting is process-wide: the first request in lowers it, the last one out restores it
        if _single_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _single_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _single_users -= 1
            if _single_users == 0:
                torch.set_num_threads(_threads_before)


_threads_lock = threading.Lock()
_single_users = 0
_threads_before = 1


# ---------------------------------------------------------------------------------------------------- the store side
class StoreBackend:
    """The :class:`~aicrm.assistant.dialogue.Backend` over one session and conversation (see ``actions.py``)."""

    def __init__(self, session: Session, conversation: Conversation, assistant: Assistant, *, channel: str):
        self.session = session
        self.conversation = conversation
        self.assistant = assistant
        self.channel = channel
        self.tickets: list[int] = []

    def find_order(self, number: str, customer_id: int | None) -> OrderRead | None:
        return actions.find_order(session=self.session, order_number=number, customer_id=customer_id)

    def find_order_by_email(self, number: str, email: str) -> OrderRead | None:
        return actions.find_order_by_email(session=self.session, order_number=number, email=email)

    def get_order(self, order_id: int) -> OrderRead | None:
        return actions.get_order(session=self.session, order_id=order_id)

    def recent_orders(self, customer_id: int) -> list[OrderRead]:
        return actions.recent_orders(session=self.session, customer_id=customer_id)

    def open_return(self, order: OrderRead, reason: str | None) -> tuple[int, bool, str]:
        request, created = actions.open_return(session=self.session, order=order, reason=reason)
        return request.id, created, request.status

    def open_ticket(self, *, subject: str, category: str | None, priority: str, order_id: int | None,
                    customer_id: int | None, description: str | None = None) -> int:
        ticket = actions.open_ticket(session=self.session, conversation_id=self.conversation.id,
                                     customer_id=customer_id, order_id=order_id, subject=subject, category=category,
                                     priority=priority, description=description, channel=self.channel)
        self.tickets.append(ticket.id)
        return ticket.id

    def email_matches(self, customer_id: int, email: str) -> bool:
        return actions.email_on_file_matches(session=self.session, customer_id=customer_id, email=email)

    def update_contact(self, customer_id: int, *, phone: str | None, email: str | None) -> None:
        actions.update_contact(session=self.session, customer_id=customer_id, phone=phone, email=email)

    def knowledge(self, text: str) -> KnowledgeHit | None:
        return self.assistant.search_knowledge(text)

    def product_answer(self, names: list[str]) -> str | None:
        return actions.describe_product(session=self.session, names=names)


# ---------------------------------------------------------------------------------------------------- a turn
def clean_text(text: str | None) -> str:
    """The message as stored: NUL bytes removed (PostgreSQL refuses them), surrounding space trimmed."""
    text = (text or "").replace("\x00", "").strip()
    if not text:
        raise ValidationFailed("The message is empty.", details=[{"field": "text", "message": "empty"}],
                               hint="Type a question, e.g. \u201cwhere is my order?\u201d.")
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"The message has {len(text):,} characters; the limit is {MAX_TEXT:,}.",
                               details=[{"field": "text", "message": "too long"}], hint="Send a shorter message.")
    return text


def _conversation(session: Session, *, conversation_id: int | None, public_id: str | None, customer_id: int | None,
                  public: bool, channel: str) -> Conversation:
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise NotFoundError(f"No customer with id {customer_id}.",
                            details=[{"field": "customer_id", "message": "unknown customer"}],
                            hint="Search customers with GET /api/customers?q=...")
    conv = None
    if public and public_id:
        conv = session.scalars(select(Conversation).where(Conversation.source == PUBLIC_SOURCE,
                                                          Conversation.external_id == public_id)
                               .with_for_update()).first()
        if conv is None:
            raise NotFoundError("This chat is not known (it may have been deleted).",
                                hint="Start a new chat: send the message without a conversation_id.")
    elif conversation_id is not None:
        # Locked for the turn on PostgreSQL: two messages of one conversation must not both read the old state.
        conv = session.get(Conversation, conversation_id, with_for_update=True)
        if conv is None:
            raise NotFoundError(f"No conversation with id {conversation_id}.",
                                details=[{"field": "conversation_id", "message": "unknown conversation"}],
                                hint="Send the message without a conversation_id to start a new one.")
        if customer_id is not None and conv.customer_id not in (None, customer_id):
            raise ValidationFailed(f"Conversation {conversation_id} belongs to customer {conv.customer_id}, "
                                   f"not {customer_id}.", details=[{"field": "customer_id", "message": "mismatch"}],
                                   hint="Leave out customer_id, or start a new conversation for that customer.")
        if customer_id is not None and conv.customer_id is None:
            conv.customer_id = customer_id
    if conv is None:
        conv = Conversation(source=PUBLIC_SOURCE if public else SOURCE, external_id=uuid.uuid4().hex,
                            customer_id=None if public else customer_id, channel=channel, status="open", state={})
        session.add(conv)
        session.flush()
    return conv


def reply_to(*, session: Session, text: str, conversation_id: int | None = None, public_id: str | None = None,
             customer_id: int | None = None, public: bool = False, channel: str = "chat",
             assistant: Assistant | None = None) -> AssistantTurn:
    """Answer one customer message in a new or continuing conversation and store the turn; raises domain errors.

    ``public=True`` is the anonymous customer chat: conversations are addressed by ``public_id`` (a random token,
    never a guessable number), no ``customer_id`` is trusted, and orders are shown only for a matching order
    number and e-mail address.
    """
    text = clean_text(text)
    if public and customer_id is not None:
        raise ValidationFailed("The public chat cannot name a customer.", hint="Leave out customer_id.")
    assistant = assistant or get_assistant()
    conv = _conversation(session, conversation_id=conversation_id, public_id=public_id, customer_id=customer_id,
                         public=public, channel=channel if channel in CHANNELS else "chat")
    understanding = assistant.understand(text, products=assistant.products(session))
    incoming = Message(conversation_id=conv.id, sender="customer", text=text, confidence=understanding.confidence)
    session.add(incoming)
    session.flush()  # the transcript of a ticket opened during this turn includes this message

    state = DialogueState.from_dict(conv.state)
    backend = StoreBackend(session, conv, assistant, channel=conv.channel)
    decision: Decision = assistant.policy.decide(state, understanding, sentiment=assistant.sentiment(text),
                                                 context=Context(customer_id=conv.customer_id, public=public),
                                                 backend=backend)
    incoming.intent = decision.intent
    session.add(Message(conversation_id=conv.id, sender="assistant", text=decision.reply))
    conv.state = state.to_dict()  # a new dict: SQLAlchemy does not see changes inside a JSON value
    conv.handoff = state.handoff
    conv.status = "handed_off" if state.handoff else ("closed" if decision.close else "open")
    session.flush()
    for ticket_id in backend.tickets:  # the handoff reply belongs in the transcript the colleague reads
        ticket = session.get(Ticket, ticket_id)
        ticket.transcript = actions.transcript(session=session, conversation_id=conv.id)
    session.commit()
    return AssistantTurn(conversation_id=conv.id, public_id=conv.external_id, reply=decision.reply,
                         intent=decision.intent, confidence=round(float(understanding.confidence), 4),
                         handoff=decision.handoff, action=decision.action, ticket_id=decision.ticket_id,
                         return_request_id=decision.return_request_id, order_number=decision.order_number,
                         knowledge_article=decision.knowledge_article,
                         verification_failed=decision.verification_failed)


def resolve_customer(*, session: Session, key: str) -> int:
    """The id of the customer named by id or external id (``42`` or ``CUST-000042``); raises ``NotFoundError``."""
    from aicrm.customers import service as customers_service

    return customers_service.find_id_or_raise(session=session, key=key)
