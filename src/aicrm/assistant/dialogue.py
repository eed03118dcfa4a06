"""The assistant's dialogue policy: (conversation state, what was understood) -> the next action and its reply.

Rasa's layers kept apart: the policy reads an :class:`~aicrm.assistant.nlu.Understanding` (never features or
scores), keeps its memory in a :class:`DialogueState` that the service stores as JSON in ``conversations.state``,
and reaches the store only through a :class:`Backend` (implemented over a session in ``service.py``, with the
store work itself in ``actions.py``). It holds no I/O of its own, so every rule can be followed in this file.

The rules, in the order they are tried on each customer message:

1. after a handoff the assistant only says that a colleague has the conversation;
2. "talk to a human" -> handoff; a very negative message (VADER compound <= ``negative_sentiment``) -> handoff;
3. a pending question (which order? the e-mail on file? "do you mean A or B?") is answered from this message's
   entities, ordinals or yes/no; a confident new request instead abandons the question (a digression);
4. out of scope: an order number alone asks about that order; a help article that matches answers it; otherwise
   an explicit fallback that says what the assistant can do;
5. a general question ("what is your returns policy?") matched by a help article is answered from it, even when
   its intent is a task one, unless the message refers to the customer's own order;
6. two intents within ``clarify_margin`` of each other (and holding ``clarify_min_share`` together) -> "Do you
   mean A or B?";
7. tasks fill their slots over as many turns as needed: the order (from the message, the order already discussed,
   the known customer's recent orders, or by asking), then act (status, return request, cancellation ticket,
   delivery-problem ticket); contact changes first verify the e-mail on file (or the order number + e-mail pair).

Every unsuccessful turn (a fallback, a question asked again, a failed verification) counts; ``fallback_limit`` of
them in a row hand the conversation to a person with a ticket that carries the transcript.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from aicrm.assistant.actions import (
    OPEN_ORDER_STATUSES, describe_order, find_phone, format_date, outside_return_window, short_order,
)
from aicrm.assistant.knowledge import KnowledgeHit
from aicrm.assistant.nlu import Understanding
from aicrm.core.errors import AicrmError
from aicrm.orders.schemas import OrderRead

STATE_VERSION = 1
TASK_INTENTS = ("order_status", "delivery_problem", "return_refund", "cancel_order")
SMALL_TALK = ("greeting", "goodbye", "thanks")
INTENT_LABELS = {
    "order_status": "the status of an order",
    "delivery_problem": "a problem with a delivery",
    "return_refund": "a return or refund",
    "cancel_order": "cancelling an order",
    "product_question": "a question about a product",
    "complaint": "a complaint about our service",
    "account_password": "signing in or your password",
    "update_contact": "changing your contact details",
    "talk_to_human": "talking to a person",
    "greeting": "saying hello",
    "goodbye": "saying goodbye",
    "thanks": "saying thanks",
}
# Words a customer may use to pick one of two offered intents ("the return one", "cancel").
INTENT_KEYWORDS = {
    "order_status": ("status", "where", "track", "arrive", "when"),
    "delivery_problem": ("problem", "damaged", "broken", "late", "lost", "missing", "wrong"),
    "return_refund": ("return", "refund", "money back", "send it back"),
    "cancel_order": ("cancel",),
    "product_question": ("product", "item", "stock", "size", "price"),
    "complaint": ("complain", "complaint", "unhappy"),
    "account_password": ("password", "sign in", "log in", "login", "account"),
    "update_contact": ("contact", "phone", "address", "e-mail", "email", "details"),
    "talk_to_human": ("human", "person", "agent", "someone"),
}
CAPABILITIES = ("I can help with orders and deliveries, returns and refunds, cancellations, changing your contact "
                "details, and questions about delivery times, payment, returns policy or your account.")
ASK_ORDER = "What is the order number? It looks like ORD-123456."
ASK_ORDER_PUBLIC = ("Could you give me the order number (it looks like ORD-123456) and the e-mail address you "
                    "ordered with? I need both before I can look at an order.")

_YES = re.compile(r"^\s*(yes|yeah|yep|yup|sure|ok|okay|please|please do|go ahead|do it|y)\b", re.IGNORECASE)
_NO = re.compile(r"^\s*(no|nope|nah|not now|no thanks|n)\b", re.IGNORECASE)
_FIRST = re.compile(r"\b(first|1st|former|top)\b|^\s*(1|a)\s*[.!]?\s*$", re.IGNORECASE)
_SECOND = re.compile(r"\b(second|2nd|latter|two|other)\b|^\s*(2|b)\s*[.!]?\s*$", re.IGNORECASE)
_THIRD = re.compile(r"\b(third|3rd|three)\b|^\s*3\s*[.!]?\s*$", re.IGNORECASE)
# At the start of a contact change, an e-mail after "to" or "new" is the new address, not the one on file.
_NEW_EMAIL = re.compile(r"\b(to|new|is now)\b[^@]{0,40}@", re.IGNORECASE)
_LATEST = re.compile(r"\b(latest|newest|last|most recent|recent one)\b", re.IGNORECASE)
_GENERAL_QUESTION = re.compile(
    r"^\s*(what|what's|whats|how|when|which|why|where can|do you|does|did you|can i|could i|can you|is there|"
    r"are there|is it|are|do i|will i|should i)\b", re.IGNORECASE)
# "my order", "it", "mine": the message is about the customer's own order, not a general policy question.
_OWN_ORDER = re.compile(r"\b(my|mine|it|its|this|these|that|i ordered|i bought|i received|i got)\b", re.IGNORECASE)


@dataclass
class DialogueState:
    """What the assistant remembers of one conversation (stored as JSON in ``conversations.state``)."""

    version: int = STATE_VERSION
    task: str | None = None  # the request being served, e.g. "return_refund"
    task_text: str | None = None  # the message that started it (a return's reason)
    awaiting: str | None = None  # the question asked: order_number, order_choice, clarify, verify_email, ...
    choices: list[Any] = field(default_factory=list)  # offered intents or order ids
    order_id: int | None = None  # the order being discussed: "return it" refers to it
    order_number: str | None = None
    pending_order_number: str | None = None  # given before the e-mail that unlocks it (public chat)
    email: str | None = None  # an e-mail address the customer gave (verified when verified_customer_id is set)
    verified_customer_id: int | None = None  # proved by order number + e-mail, or the e-mail on file
    contact_verified: bool = False
    new_phone: str | None = None
    new_email: str | None = None
    fallbacks: int = 0  # unsuccessful turns in a row
    turns: int = 0
    handoff: bool = False
    ticket_id: int | None = None
    last_intent: str | None = None
    history: list[str] = field(default_factory=list)  # the last actions taken, newest last

    @classmethod
    def from_dict(cls, data: dict | None) -> DialogueState:
        """The state saved by :meth:`to_dict`; unknown keys are ignored and a missing or foreign state starts afresh."""
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)

    def forget_task(self) -> None:
        """Drop the request in progress and its question (the order discussed stays: "it" may refer to it)."""
        self.task = self.task_text = self.awaiting = self.pending_order_number = None
        self.new_phone = self.new_email = None
        self.choices = []


@dataclass(frozen=True)
class Context:
    """Who is talking: a known customer (``customer_id``) or an anonymous visitor of the public chat."""

    customer_id: int | None = None
    public: bool = False


@dataclass
class Decision:
    """The policy's answer to one message: the reply and what was done."""

    reply: str
    action: str
    intent: str | None = None
    handoff: bool = False
    ticket_id: int | None = None
    return_request_id: int | None = None
    order_number: str | None = None
    verification_failed: bool = False
    close: bool = False
    knowledge_article: str | None = None


class Backend(Protocol):
    """What the policy may ask of the store (implemented over a session by ``service.StoreBackend``)."""

    def find_order(self, number: str, customer_id: int | None) -> OrderRead | None: ...
    def find_order_by_email(self, number: str, email: str) -> OrderRead | None: ...
    def get_order(self, order_id: int) -> OrderRead | None: ...
    def recent_orders(self, customer_id: int) -> list[OrderRead]: ...
    def open_return(self, order: OrderRead, reason: str | None) -> tuple[int, bool, str]: ...
    def open_ticket(self, *, subject: str, category: str | None, priority: str, order_id: int | None,
                    customer_id: int | None, description: str | None = None) -> int: ...
    def email_matches(self, customer_id: int, email: str) -> bool: ...
    def update_contact(self, customer_id: int, *, phone: str | None, email: str | None) -> None: ...
    def knowledge(self, text: str) -> KnowledgeHit | None: ...
    def product_answer(self, names: list[str]) -> str | None: ...


class DialoguePolicy:
    """Rules from (state, understanding, sentiment) to a :class:`Decision`; see the module docstring for the order.

    Parameters
    ----------
    clarify_margin : ask "A or B?" when the second intent's probability is within this of the first...
    clarify_min_share : ...and the two together have at least this probability.
    fallback_limit : unsuccessful turns in a row before a person takes over.
    negative_sentiment : VADER compound score at or below which the conversation goes to a person.
    min_confidence : a new request below this confidence does not abandon a pending question.
    """

    def __init__(self, *, clarify_margin: float = 0.15, clarify_min_share: float = 0.6, fallback_limit: int = 2,
                 negative_sentiment: float = -0.7, min_confidence: float = 0.5):
        self.clarify_margin = clarify_margin
        self.clarify_min_share = clarify_min_share
        self.fallback_limit = fallback_limit
        self.negative_sentiment = negative_sentiment
        self.min_confidence = min_confidence

    # ------------------------------------------------------------------------------------------------ entry point
    def decide(self, state: DialogueState, understanding: Understanding, *, sentiment: float, context: Context,
               backend: Backend) -> Decision:
        """The next action for one customer message; updates ``state`` in place."""
        state.turns += 1
        decision = self._decide(state, understanding, sentiment, context, backend)
        if decision.action not in ("fallback", "ask_again", "verification_failed"):
            state.fallbacks = 0
        if decision.intent:
            state.last_intent = decision.intent
        state.history = (state.history + [decision.action])[-10:]
        return decision

    def _decide(self, state, u: Understanding, sentiment, ctx, backend) -> Decision:
        text = u.text
        if state.handoff:
            if u.intent in ("goodbye", "thanks"):
                return Decision("You're welcome. A colleague will be in touch about your request.",
                                "wait_for_agent", intent=u.intent, handoff=True, ticket_id=state.ticket_id)
            return Decision(f"A colleague has our conversation (ticket #{state.ticket_id}) and will answer you "
                            f"here as soon as possible.", "wait_for_agent", intent=u.intent, handoff=True,
                            ticket_id=state.ticket_id)
        if u.intent == "talk_to_human" and state.awaiting != "clarify":
            return self._handoff(state, ctx, backend, reason="the customer asked for a person", intent=u.intent)
        if sentiment <= self.negative_sentiment:
            return self._handoff(state, ctx, backend, reason="the customer is very unhappy", priority="high",
                                 intent=u.intent or state.task)
        if state.awaiting:
            decision = self._answer_to_question(state, u, ctx, backend)
            if decision is not None:
                return decision
        return self._new_request(state, u, sentiment, ctx, backend, text)

    # ------------------------------------------------------------------------------------------------ new requests
    def _new_request(self, state, u: Understanding, sentiment, ctx, backend, text) -> Decision:
        intent = u.intent
        has_order_number = bool(u.entities_of("order_number"))
        inferred = False
        if intent is None:
            if has_order_number:
                intent, inferred = "order_status", True  # a bare order number asks about that order
            else:
                hit = backend.knowledge(text)
                if hit is not None:
                    return self._article(hit, intent=None)
                return self._fallback(state, ctx, backend)
        if intent in SMALL_TALK:
            state.forget_task()
            return self._small_talk(intent)
        candidates = [] if inferred else [c for c in u.candidates(within=self.clarify_margin)
                                          if c not in SMALL_TALK][:2]
        # Two close intents that together hold most of the probability: worth asking. Close but diffuse (three or
        # more intents share it) means the message fits none of them well, and the question would puzzle.
        share = sum(p for name, p in u.ranking if name in candidates)
        ambiguous = len(candidates) == 2 and candidates[0] == intent and share >= self.clarify_min_share
        # A general question, or an ambiguous message, that a help article answers is answered from it; a message
        # about the customer's own order is a task even when it is phrased as a question.
        if not has_order_number and not _OWN_ORDER.search(text) and intent != "talk_to_human" and (
                ambiguous or _GENERAL_QUESTION.search(text) or intent in ("product_question", "account_password")):
            hit = backend.knowledge(text)
            if hit is not None:
                return self._article(hit, intent=intent)
        if ambiguous:
            state.forget_task()
            state.awaiting, state.choices, state.task_text = "clarify", candidates, text
            if has_order_number:
                state.pending_order_number = u.entities_of("order_number")[0].value
            return Decision(f"Do you mean {INTENT_LABELS.get(candidates[0], candidates[0])} or "
                            f"{INTENT_LABELS.get(candidates[1], candidates[1])}?", "clarify", intent=None)
        return self._start(intent, state, u, sentiment, ctx, backend, text)

    def _start(self, intent, state, u, sentiment, ctx, backend, text) -> Decision:
        if intent in ("account_password", "product_question"):
            state.forget_task()
            products = [e.value for e in u.entities_of("product")]
            answer = backend.product_answer(products) if products and intent == "product_question" else None
            if answer:
                return Decision(answer + " Anything else I can help with?", "product_info", intent=intent)
            hit = backend.knowledge(text)
            if hit is not None:
                return self._article(hit, intent=intent)
            if intent == "account_password":
                return Decision("For sign-in problems, use \u201cForgot password?\u201d on the sign-in page. If that "
                                "does not work, say \u201cagent\u201d and a colleague will help.", "password_help",
                                intent=intent)
            return self._fallback(state, ctx, backend, prefix="Sorry, I couldn't find an answer to that. ")
        if intent == "complaint":
            state.forget_task()
            if sentiment <= -0.3 or "complaint" in state.history[-3:]:
                return self._handoff(state, ctx, backend, reason="complaint", intent=intent, priority="high")
            state.awaiting = "confirm_handoff"
            return Decision("I'm sorry to hear that. Would you like me to pass this on to a colleague who can look "
                            "into it?", "complaint", intent=intent)
        if intent == "talk_to_human":
            return self._handoff(state, ctx, backend, reason="the customer asked for a person", intent=intent)
        if intent == "update_contact":
            if state.task != "update_contact":
                state.forget_task()
                state.task, state.task_text = intent, text
            self._note_new_contact(state, u, text, any_email=bool(_NEW_EMAIL.search(text)))
            return self._contact_step(state, u, ctx, backend)
        # an order task
        if state.task != intent:
            state.forget_task()
            state.task, state.task_text = intent, text
        return self._with_order(state, u, ctx, backend)

    # ------------------------------------------------------------------------------------------------ pending questions
    def _answer_to_question(self, state, u: Understanding, ctx, backend) -> Decision | None:
        text, awaiting = u.text, state.awaiting
        new_request = u.intent is not None and u.confidence >= self.min_confidence and u.intent not in SMALL_TALK
        if awaiting == "clarify":
            chosen = _pick_intent(text, state.choices, u)
            state.awaiting, choices = None, state.choices
            state.choices = []
            if chosen:
                # The task starts from the first message (its text is a return's reason, its order number stays).
                original = state.task_text or text
                state.task, state.task_text = chosen, original
                return self._start(chosen, state, u, 0.0, ctx, backend, original)
            if new_request and u.intent not in choices:
                return None
            return self._fallback(state, ctx, backend, prefix="Sorry, I didn't catch which one you meant. ")
        if awaiting == "confirm_handoff":
            state.awaiting = None
            if _YES.search(text):
                topic = state.last_intent if state.last_intent in ("complaint", "update_contact") else "complaint"
                return self._handoff(state, ctx, backend, reason=f"{topic.replace('_', ' ')} needs a person",
                                     intent=topic)
            if _NO.search(text):
                return Decision("All right. Is there anything else I can help with?", "ok", intent=None)
            return None
        if awaiting in ("order_number", "order_choice"):
            has_slot = bool(u.entities_of("order_number") or u.entities_of("email"))
            if awaiting == "order_choice" and not has_slot:
                order_id = _pick_order(text, state.choices)
                if order_id is not None:
                    order = backend.get_order(order_id)
                    if order is not None:
                        state.awaiting, state.choices = None, []
                        return self._act_on_order(state, order, ctx, backend)
            if has_slot:
                return self._with_order(state, u, ctx, backend)
            if new_request and u.intent != state.task:
                state.forget_task()
                return None
            return self._ask_again(state, ctx, backend, ASK_ORDER_PUBLIC if ctx.public and not state.email
                                   else ("Which order do you mean? Please reply with its number." if
                                         awaiting == "order_choice" else ASK_ORDER))
        if awaiting == "verify_email":
            emails = u.entities_of("email")
            if not emails:
                if new_request and u.intent != "update_contact":
                    state.forget_task()
                    return None
                return self._ask_again(state, ctx, backend, "For your security, please type the e-mail address we "
                                                            "have on file for you.")
            customer = ctx.customer_id or state.verified_customer_id
            if customer is not None and backend.email_matches(customer, emails[0].value):
                state.contact_verified, state.awaiting = True, None
                state.verified_customer_id = customer
                return self._contact_step(state, u, ctx, backend)
            return self._verification_failed(state, ctx, backend, "That e-mail address does not match the one we "
                                                                  "have on file. Please check it and try again.")
        if awaiting == "new_contact":
            self._note_new_contact(state, u, text, any_email=True)
            if state.new_phone or state.new_email:
                return self._contact_step(state, u, ctx, backend)
            if new_request and u.intent != "update_contact":
                state.forget_task()
                return None
            return self._ask_again(state, ctx, backend, "Please type the new phone number or e-mail address.")
        state.awaiting = None
        return None

    # ------------------------------------------------------------------------------------------------ orders
    def _with_order(self, state, u: Understanding, ctx, backend) -> Decision:
        """Fill the order slot (from the message, the order discussed, the customer's recent orders) and act."""
        numbers = [e.value for e in u.entities_of("order_number")]
        emails = [e.value for e in u.entities_of("email")]
        if emails:
            state.email = emails[-1]
        if numbers:
            state.pending_order_number = numbers[0]
        number = state.pending_order_number
        if number:
            if ctx.public:
                if not state.email:
                    state.awaiting = "order_number"
                    return Decision("Thanks. Which e-mail address did you order with? I need it to check the order "
                                    "is yours.", "ask_email", intent=state.task)
                order = backend.find_order_by_email(number, state.email)
                if order is None:
                    state.pending_order_number = state.email = None  # both are asked for again
                    state.awaiting = "order_number"
                    return self._verification_failed(
                        state, ctx, backend, "I couldn't find an order with that number and e-mail address. Please "
                                             "check both and send them again.")
                state.verified_customer_id = order.customer_id
                state.contact_verified = True  # the same proof a contact change asks for
            else:
                known = ctx.customer_id or state.verified_customer_id
                order = backend.find_order(number, known)
                if order is None or (known is not None and order.customer_id != known):
                    state.pending_order_number = None
                    state.awaiting = "order_number"
                    why = ("is not one of this customer's orders" if order is not None else "is not in our records")
                    return self._ask_again(state, ctx, backend, f"Order {number} {why}. Please check the number "
                                                                f"(it looks like ORD-123456).")
            state.pending_order_number = None
            return self._act_on_order(state, order, ctx, backend)
        if state.order_id is not None:
            order = backend.get_order(state.order_id)
            if order is not None:
                return self._act_on_order(state, order, ctx, backend)
        customer = ctx.customer_id or state.verified_customer_id
        if customer is not None:
            recent = backend.recent_orders(customer)
            if not recent:
                state.forget_task()
                return Decision("I can't see any orders on this account. If you ordered as a guest, tell me the order "
                                "number.", "no_orders", intent=state.task)
            preferred = [o for o in recent if _fits(state.task, o)]
            pick = preferred[0] if len(preferred) == 1 else recent[0] if len(recent) == 1 else None
            if pick is not None:
                return self._act_on_order(state, pick, ctx, backend)
            options = (preferred or recent)[:3]
            state.awaiting, state.choices = "order_choice", [o.id for o in options]
            listed = "; ".join(f"{i}. {short_order(o)}" for i, o in enumerate(options, start=1))
            return Decision(f"Which order do you mean? {listed}. Reply with the order number (or \u201cthe first "
                            f"one\u201d).", "ask_order_choice", intent=state.task)
        state.awaiting = "order_number"
        return Decision(ASK_ORDER_PUBLIC if ctx.public else ASK_ORDER, "ask_order_number", intent=state.task)

    def _act_on_order(self, state, order: OrderRead, ctx, backend) -> Decision:
        task = state.task or "order_status"
        state.order_id, state.order_number = order.id, order.external_id
        state.awaiting, state.choices = None, []
        if task == "update_contact":  # the order only says who is asking
            if order.customer_id is None:
                state.forget_task()
                return Decision(f"Order {order.external_id} was placed as a guest, so there are no contact details "
                                f"to change.", "guest_order", intent=task)
            # Public chat: the order number with its e-mail is the proof. Staff: the e-mail on file is asked next.
            state.verified_customer_id = order.customer_id
            state.contact_verified = state.contact_verified or ctx.public
            return self._contact_step(state, None, ctx, backend)
        status = (order.status or "").lower()
        reason = state.task_text
        state.forget_task()
        name = order.external_id
        if task == "order_status":
            return Decision(describe_order(order) + " Is there anything else I can do for you?", "order_status",
                            intent=task, order_number=name)
        if task == "return_refund":
            if status == "processing":
                return Decision(f"Order {name} has not shipped yet, so there is nothing to send back: it can be "
                                f"cancelled instead. Say \u201ccancel it\u201d and I'll ask our team.",
                                "return_not_shipped", intent=task, order_number=name)
            if status in ("returned", "cancelled", "canceled"):
                return Decision(describe_order(order) + " There is nothing left to return.", "return_not_possible",
                                intent=task, order_number=name)
            request_id, created, request_status = backend.open_return(order, reason)
            if not created:
                return Decision(f"There is already a return request for order {name} (#{request_id}, "
                                f"{request_status}). We'll e-mail you as soon as it moves on.", "return_exists",
                                intent=task, order_number=name, return_request_id=request_id)
            text = (f"I've opened return request #{request_id} for order {name}. We'll e-mail you a prepaid returns "
                    f"label; the refund is paid within 5 working days of the parcel reaching us.")
            if outside_return_window(order):
                text += (f" It was delivered on {format_date(order.delivered_at)}, more than 30 days ago, so a "
                         f"colleague will check whether it can still be returned.")
            return Decision(text, "return_created", intent=task, order_number=name, return_request_id=request_id)
        if task == "cancel_order":
            if status == "processing":
                ticket = backend.open_ticket(subject=f"Cancel order {name}", category="cancel_order", priority="high",
                                             order_id=order.id, customer_id=order.customer_id,
                                             description=f"The customer asked to cancel order {name} before it ships.")
                return Decision(f"I've asked our team to cancel order {name} before it ships (ticket #{ticket}). "
                                f"You'll get a confirmation by e-mail.", "cancel_requested", intent=task,
                                order_number=name, ticket_id=ticket)
            if status == "shipped":
                return Decision(describe_order(order) + " It can no longer be cancelled, but once it arrives you can "
                                "send it back free of charge within 30 days.", "cancel_too_late", intent=task,
                                order_number=name)
            return Decision(describe_order(order) + " If you don't want it, I can start a return: just say "
                            "\u201creturn it\u201d.", "cancel_not_possible", intent=task, order_number=name)
        # delivery_problem
        ticket = backend.open_ticket(subject=f"Delivery problem with order {name}", category="delivery_problem",
                                     priority="high", order_id=order.id, customer_id=order.customer_id,
                                     description=reason)
        return Decision(f"I'm sorry about that. {describe_order(order)} I've opened ticket #{ticket} so a colleague "
                        f"can sort it out; they will contact you within one working day.", "delivery_ticket",
                        intent=task, order_number=name, ticket_id=ticket)

    # ------------------------------------------------------------------------------------------------ contact details
    @staticmethod
    def _note_new_contact(state, u: Understanding, text: str, *, any_email: bool = False) -> None:
        phone = find_phone(text) if not u.entities_of("order_number") else None
        if phone:
            state.new_phone = phone
        # While verifying, an e-mail is the one on file; afterwards it is the new address.
        if any_email or state.contact_verified:
            emails = u.entities_of("email")
            if emails:
                state.new_email = emails[-1].value

    def _contact_step(self, state, u: Understanding | None, ctx, backend) -> Decision:
        customer = ctx.customer_id or state.verified_customer_id
        state.task = "update_contact"
        if customer is None:
            # Nobody known: the order number and its e-mail prove who is asking.
            return self._with_order(state, u, ctx, backend) if u is not None else Decision(
                ASK_ORDER_PUBLIC, "ask_order_number", intent="update_contact")
        if not state.contact_verified:
            state.awaiting = "verify_email"
            return Decision("I can change that. For your security, what e-mail address do we have on file for you?",
                            "ask_email_on_file", intent="update_contact")
        if ctx.public and state.new_email:
            # An order number and its e-mail are enough to change a phone number, not to take over the e-mail
            # address itself (the key to the customer's account): that goes to a person.
            state.new_email = None
            if not state.new_phone:
                state.forget_task()
                state.awaiting = "confirm_handoff"
                return Decision("For your security I can't change the e-mail address in this chat, but a colleague "
                                "can. Shall I pass you to one?", "email_change_needs_agent", intent="update_contact")
        if not (state.new_phone or state.new_email):
            state.awaiting = "new_contact"
            return Decision("Thanks, you're verified. What is the new phone number or e-mail address?",
                            "ask_new_contact", intent="update_contact")
        phone, email = state.new_phone, state.new_email
        try:
            backend.update_contact(customer, phone=phone, email=email)
        except AicrmError as exc:
            state.new_phone = state.new_email = None
            state.awaiting = "new_contact"
            return self._ask_again(state, ctx, backend, f"{exc.message} Please type it again.")
        state.forget_task()
        changed = " and ".join(x for x in (f"your phone number is now {phone}" if phone else "",
                                            f"your e-mail address is now {email}" if email else "") if x)
        return Decision(f"Done: {changed}. Anything else?", "contact_updated", intent="update_contact")

    # ------------------------------------------------------------------------------------------------ endings
    @staticmethod
    def _small_talk(intent: str) -> Decision:
        reply = {"greeting": f"Hello! {CAPABILITIES} What can I do for you?",
                 "thanks": "You're welcome! Is there anything else I can help with?",
                 "goodbye": "Goodbye, and thanks for getting in touch!"}[intent]
        return Decision(reply, intent, intent=intent, close=intent == "goodbye")

    @staticmethod
    def _article(hit: KnowledgeHit, *, intent: str | None) -> Decision:
        return Decision(f"{hit.article.answer} (Help: {hit.article.title}.)", "knowledge_answer", intent=intent,
                        knowledge_article=hit.article.id)

    def _fallback(self, state, ctx, backend, *, prefix: str = "Sorry, I can't help with that. ") -> Decision:
        state.fallbacks += 1
        if state.fallbacks >= self.fallback_limit:
            return self._handoff(state, ctx, backend, reason="the assistant did not understand twice in a row",
                                 intent=None)
        return Decision(f"{prefix}{CAPABILITIES} Could you rephrase that, or say \u201cagent\u201d to talk to a person?",
                        "fallback", intent=None)

    def _ask_again(self, state, ctx, backend, question: str) -> Decision:
        state.fallbacks += 1
        if state.fallbacks >= self.fallback_limit:
            return self._handoff(state, ctx, backend, reason="the customer could not be helped", intent=state.task)
        return Decision(question, "ask_again", intent=state.task)

    def _verification_failed(self, state, ctx, backend, message: str) -> Decision:
        decision = self._ask_again(state, ctx, backend, message)
        decision.verification_failed = True
        if decision.action == "ask_again":
            decision.action = "verification_failed"
        return decision

    def _handoff(self, state, ctx, backend, *, reason: str, intent: str | None, priority: str = "normal") -> Decision:
        customer = ctx.customer_id or state.verified_customer_id
        topic = state.task or state.last_intent or intent
        ticket = backend.open_ticket(subject=f"Chat handed over: {reason}", category=topic, priority=priority,
                                     order_id=state.order_id, customer_id=customer,
                                     description=f"The assistant handed this conversation over because {reason}.")
        state.forget_task()
        state.handoff, state.ticket_id = True, ticket
        return Decision(f"I'm passing you to a colleague now (ticket #{ticket}). They can read our conversation, so "
                        f"you won't have to repeat yourself.", "handoff", intent=intent, handoff=True,
                        ticket_id=ticket)


# ---------------------------------------------------------------------------------------------------- helpers
def _fits(task: str | None, order: OrderRead) -> bool:
    """Whether an order is the likely subject of a task: open orders for status and cancellation, delivered for returns."""
    status = (order.status or "").lower()
    if task == "return_refund":
        return status == "delivered"
    return status in OPEN_ORDER_STATUSES


def _pick_intent(text: str, choices: list[str], u: Understanding) -> str | None:
    """Which of the offered intents the reply picks: by ordinal, by keyword, or by its own intent."""
    if not choices:
        return None
    lowered = text.lower()
    named = [c for c in choices if any(k in lowered for k in INTENT_KEYWORDS.get(c, ()))]
    if len(named) == 1:
        return named[0]
    if _SECOND.search(text) and len(choices) > 1:
        return choices[1]
    if _FIRST.search(text):
        return choices[0]
    if u.intent in choices and len(text.split()) <= 4:  # "the refund", "cancelling": a longer text is a new request
        return u.intent
    return None


def _pick_order(text: str, order_ids: list[int]) -> int | None:
    """Which of the listed orders the reply picks by ordinal ("the second one", "the latest")."""
    if not order_ids:
        return None
    for pattern, index in ((_THIRD, 2), (_SECOND, 1), (_FIRST, 0), (_LATEST, 0)):
        if pattern.search(text) and index < len(order_ids):
            return int(order_ids[index])
    return None
