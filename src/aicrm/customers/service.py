"""Customers: search, read the 360-degree view, create, update and annotate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from aicrm.auth.policy import Principal
from aicrm.core.errors import ConflictError, NotFoundError, PermissionDenied
from aicrm.customers.models import Customer, CustomerNote
from aicrm.customers.schemas import (
    ChurnReason, ChurnRead, ClvRead, CustomerCreate, CustomerDetail, CustomerNoteCreate, CustomerNoteRead,
    CustomerPage, CustomerRead, CustomerStats, CustomerUpdate, InteractionRead,
)
from aicrm.feedback import service as feedback_service
from aicrm.interactions.models import Interaction
from aicrm.ml import service as ml_service
from aicrm.ml.models import CustomerScore
from aicrm.ml.schemas import ScoreRead
from aicrm.orders import service as orders_service
from aicrm.products.service import like_pattern
from aicrm.support import service as support_service

LIST_SCORES = ("churn", "clv", "segment")
# Built once: the 360-degree view runs these on every request, and building a statement costs more than running it.
_ONE = select(*Customer.__table__.c).where(Customer.id == bindparam("cid"))
_NOTES = (select(*CustomerNote.__table__.c).where(CustomerNote.customer_id == bindparam("cid"))
          .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc()).limit(bindparam("lim")))
_INTERACTIONS = (select(Interaction.id, Interaction.channel, Interaction.type, Interaction.occurred_at)
                 .where(Interaction.customer_id == bindparam("cid"))
                 .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(bindparam("lim")))
SORTS = {"id": Customer.id, "name": Customer.name, "external_id": Customer.external_id,
         "signup_date": Customer.signup_date}


def mask_email(email: str | None) -> str | None:
    """``jane.doe@example.com`` -> ``j***@e***.com``: enough to tell records apart, not to write to."""
    if not email:
        return email
    local, _, domain = email.partition("@")
    host, dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(host or tld)[:1]}***{dot}{tld if host else ''}"


def mask_phone(phone: str | None) -> str | None:
    """Keep the last two digits only."""
    if not phone:
        return phone
    digits = [c for c in phone if c.isdigit()]
    return "*" * max(len(digits) - 2, 3) + "".join(digits[-2:])


def _read(customer: Customer, scores: dict[str, CustomerScore], viewer: Principal | None) -> CustomerRead:
    churn, clv, segment = scores.get("churn"), scores.get("clv"), scores.get("segment")
    read = CustomerRead(
        id=customer.id, source=customer.source, external_id=customer.external_id, name=customer.name,
        email=customer.email, phone=customer.phone, country=customer.country, city=customer.city,
        gender=customer.gender, birth_date=customer.birth_date, signup_date=customer.signup_date,
        created_at=customer.created_at,
        churn_probability=churn.value if churn else None, risk_band=churn.label if churn else None,
        clv=clv.value if clv else None, segment=segment.label if segment else None)
    if viewer is not None and viewer.masks_contact:
        read.email, read.phone, read.birth_date = mask_email(read.email), mask_phone(read.phone), None
        read.contact_masked = True
    return read


def _check_visible(session: Session, customer_id: int, viewer: Principal | None) -> None:
    if viewer is not None and viewer.served_only and not session.scalar(select(
            support_service.served_customer(customer_id))):
        raise PermissionDenied(f"Customer {customer_id} is not one you serve.",
                               hint="Agents see customers with a ticket or a support conversation.")


def get(*, session: Session, customer_id: int) -> Customer | None:
    """The customer ``customer_id``, or None."""
    return session.get(Customer, customer_id)


def get_or_raise(*, session: Session, customer_id: int, viewer: Principal | None = None) -> CustomerRead:
    """The customer with current scores; raises ``NotFoundError`` (``PermissionDenied`` for an agent's non-customer)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"No customer with id {customer_id}.", hint="Search with GET /api/customers?q=...")
    _check_visible(session, customer_id, viewer)
    scores = ml_service.latest_scores(session=session, customer_ids=[customer_id], model_names=LIST_SCORES,
                                      explanations=False)
    return _read(customer, scores.get(customer_id, {}), viewer)


def list_customers(*, session: Session, viewer: Principal | None = None, q: str | None = None,
                   segment: str | None = None, min_churn: float | None = None, risk_band: str | None = None,
                   min_clv: float | None = None, sort: str = "id", limit: int = 50, offset: int = 0) -> CustomerPage:
    """Customers matching a search and score filters, sorted, one page at a time."""
    stmt = select(Customer)
    if viewer is not None and viewer.served_only:
        stmt = stmt.where(support_service.served_customer(Customer.id))
    if q and q.strip():
        pattern = like_pattern(q)
        fields = [Customer.name, Customer.external_id]
        # Searching by e-mail would let an analyst confirm an address they cannot see.
        if viewer is None or not viewer.masks_contact:
            fields.append(Customer.email)
        conditions = [func.lower(f).like(pattern, escape="\\") for f in fields]
        if q.strip().isdigit() and len(q.strip()) < 16:
            conditions.append(Customer.id == int(q.strip()))
        stmt = stmt.where(or_(*conditions))
    key = sort.lstrip("-")
    churn = clv = None
    if min_churn is not None or risk_band or key == "churn":
        churn = ml_service.current_scores("churn")
        stmt = (stmt.join(churn, churn.c.customer_id == Customer.id) if (min_churn is not None or risk_band)
                else stmt.outerjoin(churn, churn.c.customer_id == Customer.id))
        if min_churn is not None:
            stmt = stmt.where(churn.c.value >= min_churn)
        if risk_band:
            stmt = stmt.where(churn.c.label == risk_band)
    if min_clv is not None or key == "clv":
        clv = ml_service.current_scores("clv")
        stmt = (stmt.join(clv, clv.c.customer_id == Customer.id) if min_clv is not None
                else stmt.outerjoin(clv, clv.c.customer_id == Customer.id))
        if min_clv is not None:
            stmt = stmt.where(clv.c.value >= min_clv)
    if segment:
        seg = ml_service.current_scores("segment")
        stmt = stmt.join(seg, seg.c.customer_id == Customer.id).where(seg.c.label == segment)
    if stmt.whereclause is None and churn is None and clv is None:
        total = session.scalar(select(func.count(Customer.id))) or 0  # the common, unfiltered case stays cheap
    else:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    column = {"churn": churn.c.value if churn is not None else None,
              "clv": clv.c.value if clv is not None else None}.get(key, SORTS.get(key))
    order = column.desc() if sort.startswith("-") else column.asc()
    tiebreak = Customer.id.desc() if sort.startswith("-") else Customer.id.asc()
    # The free-form ``attributes`` JSON is not part of a list row: do not load and parse it 50 times.
    customers = list(session.scalars(stmt.options(defer(Customer.attributes))
                                     .order_by(order.nulls_last(), tiebreak).limit(limit).offset(offset)))
    scores = ml_service.latest_scores(session=session, customer_ids=[c.id for c in customers], model_names=LIST_SCORES,
                                      explanations=False)
    return CustomerPage(items=[_read(c, scores.get(c.id, {}), viewer) for c in customers], total=total)


def _churn(score: CustomerScore | None) -> ChurnRead | None:
    if score is None:
        return None
    raw = (score.explanation or {}).get("reasons") or []
    reasons = [ChurnReason(text=str(r.get("text", "")), contribution=r.get("contribution"))
               if isinstance(r, dict) else ChurnReason(text=str(r)) for r in raw]
    return ChurnRead(probability=score.value, band=score.label, reasons=reasons, model_version=score.model_version,
                     scored_at=score.scored_at)


def _clv(score: CustomerScore | None) -> ClvRead | None:
    if score is None:
        return None
    info = score.explanation or {}
    return ClvRead(value=score.value, p_alive=info.get("p_alive"),
                   expected_purchases_90d=info.get("expected_purchases_90d"),
                   model_version=score.model_version, scored_at=score.scored_at)


def get_detail_or_raise(*, session: Session, customer_id: int, viewer: Principal | None = None) -> CustomerDetail:
    """The 360-degree view: profile, scores with reasons, recommendations, orders, feedback, tickets, notes."""
    customer = session.execute(_ONE, {"cid": customer_id}).first()
    if customer is None:
        raise NotFoundError(f"No customer with id {customer_id}.", hint="Search with GET /api/customers?q=...")
    _check_visible(session, customer_id, viewer)
    latest = ml_service.latest_scores(session=session, customer_ids=[customer_id]).get(customer_id, {})
    profile = _read(customer, latest, viewer)
    return CustomerDetail(
        profile=profile,
        attributes=None if profile.contact_masked else customer.attributes,
        stats=CustomerStats(**orders_service.customer_order_stats(session=session, customer_id=customer_id)),
        churn=_churn(latest.get("churn")), clv=_clv(latest.get("clv")),
        segment=latest["segment"].label if "segment" in latest else None,
        scores=[ScoreRead.model_validate(s) for _, s in sorted(latest.items())],
        recommendations=ml_service.recommendations_for(session=session, customer_id=customer_id),
        orders=orders_service.recent_for_customer(session=session, customer_id=customer_id, limit=20),
        feedback=feedback_service.recent_for_customer(session=session, customer_id=customer_id),
        tickets=support_service.recent_for_customer(session=session, customer_id=customer_id),
        notes=list_notes(session=session, customer_id=customer_id),
        interactions=recent_interactions(session=session, customer_id=customer_id),
    )


def recent_interactions(*, session: Session, customer_id: int, limit: int = 20) -> list[InteractionRead]:
    """The customer's newest interactions (visits, e-mails opened, calls...)."""
    return [InteractionRead.model_validate(i)
            for i in session.execute(_INTERACTIONS, {"cid": customer_id, "lim": limit})]


def create(*, session: Session, data: CustomerCreate, viewer: Principal | None = None) -> CustomerRead:
    """Create a customer; raises ``ConflictError`` when (source, external_id) already exists."""
    values = data.model_dump()
    values["email"] = str(data.email).lower() if data.email else None
    values["external_id"] = data.external_id or f"crm-{uuid.uuid4().hex[:12]}"
    exists = session.scalar(select(Customer.id).where(Customer.source == values["source"],
                                                      Customer.external_id == values["external_id"]))
    if exists is not None:
        raise ConflictError(f"Customer {values['source']}/{values['external_id']} already exists (id {exists}).",
                            hint=f"Update it with PATCH /api/customers/{exists}.")
    customer = Customer(**values)
    session.add(customer)
    try:
        session.commit()
    except IntegrityError:  # a concurrent insert of the same key won the race
        session.rollback()
        raise ConflictError(f"Customer {values['source']}/{values['external_id']} already exists.") from None
    return _read(customer, {}, viewer)


def update(*, session: Session, customer_id: int, data: CustomerUpdate, viewer: Principal | None = None) -> CustomerRead:
    """Change the given fields of a customer; raises ``NotFoundError``."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"No customer with id {customer_id}.", hint="Search with GET /api/customers?q=...")
    changes = data.model_dump(exclude_unset=True)
    if changes.get("email"):
        changes["email"] = str(changes["email"]).lower()
    for key, value in changes.items():
        setattr(customer, key, value)
    session.commit()
    return get_or_raise(session=session, customer_id=customer_id, viewer=viewer)


def list_notes(*, session: Session, customer_id: int, limit: int = 50) -> list[CustomerNoteRead]:
    """The customer's notes, newest first."""
    return [CustomerNoteRead.model_validate(n) for n in session.execute(_NOTES, {"cid": customer_id, "lim": limit})]


def list_notes_or_raise(*, session: Session, customer_id: int, viewer: Principal | None = None) -> list[CustomerNoteRead]:
    """The customer's notes; raises ``NotFoundError`` or ``PermissionDenied`` like ``get_or_raise``."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"No customer with id {customer_id}.", hint="Search with GET /api/customers?q=...")
    _check_visible(session, customer_id, viewer)
    return list_notes(session=session, customer_id=customer_id)


def add_note(*, session: Session, customer_id: int, data: CustomerNoteCreate,
             author: Principal | None = None) -> CustomerNoteRead:
    """Add a note to a customer; raises ``NotFoundError`` (``PermissionDenied`` for an agent's non-customer)."""
    if session.get(Customer, customer_id) is None:
        raise NotFoundError(f"No customer with id {customer_id}.", hint="Search with GET /api/customers?q=...")
    _check_visible(session, customer_id, author)
    note = CustomerNote(customer_id=customer_id, author=author.email if author else None, text=data.text.strip())
    session.add(note)
    session.commit()
    return CustomerNoteRead.model_validate(note)


def count(*, session: Session) -> int:
    """How many customers the store holds."""
    return session.scalar(select(func.count(Customer.id))) or 0


def names(*, session: Session, customer_ids: Sequence[int]) -> dict[int, str | None]:
    """Customer names by id (for labelling lists of other things)."""
    ids = list(set(customer_ids))
    out: dict[int, str | None] = {}
    for start in range(0, len(ids), ml_service.ID_CHUNK):
        rows = session.execute(select(Customer.id, Customer.name)
                               .where(Customer.id.in_(ids[start:start + ml_service.ID_CHUNK])))
        out.update({cid: name for cid, name in rows})
    return out


def find_id_or_raise(*, session: Session, key: str, source: str | None = None) -> int:
    """The aicrm id of a customer named by its id or external id; raises ``NotFoundError`` or ``ConflictError``."""
    q = select(Customer.id).where(Customer.external_id == key)
    if source:
        q = q.where(Customer.source == source)
    ids = session.execute(q).scalars().all()
    if not ids and key.isdigit() and source is None and session.get(Customer, int(key)) is not None:
        return int(key)
    if len(ids) > 1:
        raise ConflictError(f"external id '{key}' exists in several sources",
                            hint="Add --source NAME to say which one.")
    if not ids:
        raise NotFoundError(f"no customer with id or external id '{key}'",
                            hint="Check the id; the dashboard's search box finds customers by name or e-mail.")
    return int(ids[0])
