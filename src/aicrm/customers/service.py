"""Customers: search, read the 360-degree view, create, update and annotate."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aicrm.auth.policy import Principal
from aicrm.core.errors import ConflictError, NotFoundError, PermissionDenied, ValidationFailed
from aicrm.customers.models import Customer, CustomerNote
from aicrm.customers.schemas import (
    ChurnReason, ChurnRead, ClvRead, CustomerCreate, CustomerDetail, CustomerNoteCreate, CustomerNoteRead,
    CustomerPage, CustomerRead, CustomerStats, CustomerUpdate, InteractionRead, RfmRead,
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
# A list row: everything but the free-form ``attributes`` JSON (not shown in lists; parsing it 50 times costs).
LIST_COLUMNS = tuple(c for c in Customer.__table__.c if c.name not in ("attributes", "updated_at"))
_MAX_ID = select(func.max(Customer.id))
_ALL_IDS = select(Customer.id).order_by(Customer.id)
_IDS_AFTER = select(Customer.id).where(Customer.id > bindparam("after")).order_by(Customer.id)
# A page of the unfiltered list by id from a start id (see _id_page): the primary key serves the order and the start.
_ID_PAGES = {
    False: select(*LIST_COLUMNS).where(Customer.id >= bindparam("start")).order_by(Customer.id.asc())
    .limit(bindparam("lim")),
    True: select(*LIST_COLUMNS).where(Customer.id <= bindparam("start")).order_by(Customer.id.desc())
    .limit(bindparam("lim")),
}
_LIST_SCORE_ROWS = (
    select(CustomerScore.id, CustomerScore.customer_id, CustomerScore.model_name, CustomerScore.model_version,
           CustomerScore.value, CustomerScore.label, CustomerScore.scored_at)
    .where(CustomerScore.customer_id.in_(bindparam("ids", expanding=True)),
           CustomerScore.model_name.in_(LIST_SCORES)))


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


def _read(customer, scores: dict, viewer: Principal | None) -> CustomerRead:
    """A customer (table object or row) with its newest scores, contact details masked for the viewer's role."""
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


_LIST_KEYS = tuple(c.name for c in LIST_COLUMNS)
_SCORE_VALUE, _SCORE_LABEL = 4, 5  # positions in _LIST_SCORE_ROWS


def _read_rows(rows, scores: dict[int, dict], viewer: Principal | None) -> list[CustomerRead]:
    """``_read`` for a page of list rows: plain tuples and positions, as attribute access on rows costs more
    than everything else a list does."""
    out = []
    masks = viewer is not None and viewer.masks_contact
    for row in rows:
        values = dict(zip(_LIST_KEYS, row))
        mine = scores.get(values["id"], {})
        churn, clv, segment = mine.get("churn"), mine.get("clv"), mine.get("segment")
        if masks:
            values.update(email=mask_email(values["email"]), phone=mask_phone(values["phone"]), birth_date=None,
                          contact_masked=True)
        out.append(CustomerRead(**values, churn_probability=churn[_SCORE_VALUE] if churn else None,
                                risk_band=churn[_SCORE_LABEL] if churn else None,
                                clv=clv[_SCORE_VALUE] if clv else None,
                                segment=segment[_SCORE_LABEL] if segment else None))
    return out


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


@dataclass
class _IdEntry:
    top: int | None
    ids: np.ndarray
    expires: float


class _IdIndex:
    """Every customer id of a store in order, kept in memory per process (8 bytes a customer).

    It answers the unfiltered list's two costly questions cheaply: the total is its length (``count(*)`` scans a
    whole index: milliseconds at 50k rows on PostgreSQL, and growing), and ``offset=k`` becomes ``id >= ids[k]`` on
    the primary key (``OFFSET k`` makes the database step over k rows, so deep pages cost the most). Each use checks
    ``max(id)``, one index probe: new customers (ids only grow) are appended at once, in every process. Deleted
    ones leave the positions off by that many until ``ttl`` passes or ``invalidate_total()`` runs; the rows shown
    are always read from the table, so a stale index shifts a page boundary, never shows a deleted customer.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[int, str], _IdEntry] = {}
        self._lock = threading.Lock()

    def ids(self, session: Session) -> np.ndarray:
        bind = session.get_bind()
        key = (id(bind), str(getattr(bind, "url", "")))
        conn = session.connection()
        top = conn.execute(_MAX_ID).scalar()
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now < entry.expires:
            if entry.top == top:
                return entry.ids
            if top is not None and entry.top is not None and top > entry.top:
                new = np.fromiter(conn.execute(_IDS_AFTER, {"after": entry.top}).scalars(), dtype=np.int64)
                entry = _IdEntry(top=top, ids=np.concatenate([entry.ids, new]), expires=entry.expires)
                with self._lock:
                    self._entries[key] = entry
                return entry.ids
        entry = _IdEntry(top=top, ids=np.fromiter(conn.execute(_ALL_IDS).scalars(), dtype=np.int64),
                         expires=now + self.ttl)
        with self._lock:
            self._entries[key] = entry
        return entry.ids

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_ID_INDEX = _IdIndex()


def invalidate_total() -> None:
    """Forget the in-memory id lists (after deleting customers, so lists need not wait for them to expire)."""
    _ID_INDEX.clear()


def _id_page(session: Session, *, descending: bool, cursor, offset: int, limit: int) -> tuple[list, int]:
    """``(rows, total)`` of the unfiltered list by id: the id index turns the cursor and offset into a start id,
    and the primary key does the rest."""
    ids = _ID_INDEX.ids(session)
    if descending:
        end = (int(np.searchsorted(ids, cursor[1], side="left")) if cursor else len(ids)) - 1 - offset
        start = int(ids[end]) if 0 <= end < len(ids) else None
    else:
        first = (int(np.searchsorted(ids, cursor[1], side="right")) if cursor else 0) + offset
        start = int(ids[first]) if first < len(ids) else None
    if start is None:
        return [], len(ids)
    rows = session.connection().execute(_ID_PAGES[descending], {"start": start, "lim": limit + 1}).all()
    return rows, len(ids)


def _encode_after(sort_key: str, value, customer_id: int) -> str:
    """The ``after`` cursor that continues a list after this row: the bare id for the id sort, else value and id."""
    if sort_key == "id":
        return str(customer_id)
    if isinstance(value, dt.date):
        value = value.isoformat()
    raw = json.dumps([value, customer_id], ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_after(sort_key: str, after: str) -> tuple[object, int]:
    """``(value, id)`` of an ``after`` cursor; raises ``ValidationFailed`` for one this sort did not make."""
    try:
        if sort_key == "id":
            value, customer_id = None, int(after)
        else:
            value, customer_id = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
            customer_id = int(customer_id)
            if value is not None:
                value = {"signup_date": dt.date.fromisoformat, "churn": float, "clv": float}.get(sort_key, str)(value)
        if not -2**63 <= customer_id < 2**63:  # ids are 64-bit in every store
            raise ValueError(customer_id)
        return value, customer_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ValidationFailed(f"'after' is not a cursor of a list sorted by {sort_key}.",
                               details=[{"field": "after", "message": "use next_after of the previous page"}],
                               hint="Pass the next_after value of the previous page with the same sort and filters, "
                                    "or page with offset instead.") from None


def _after_condition(column, descending: bool, value, last_id: int):
    """Rows after ``(value, last_id)`` in ``ORDER BY column [DESC] NULLS LAST, id [DESC]``."""
    same_or_later_id = Customer.id < last_id if descending else Customer.id > last_id
    if column is Customer.id:
        return same_or_later_id
    if value is None:  # already among the NULLs, which come last
        return and_(column.is_(None), same_or_later_id)
    beyond = column < value if descending else column > value
    return or_(beyond, and_(column == value, same_or_later_id), column.is_(None))


def list_customers(*, session: Session, viewer: Principal | None = None, q: str | None = None,
                   segment: str | None = None, min_churn: float | None = None, risk_band: str | None = None,
                   min_clv: float | None = None, sort: str = "id", limit: int = 50, offset: int = 0,
                   after: str | None = None) -> CustomerPage:
    """Customers matching a search and score filters, sorted, one page at a time (``offset``, or the ``after``
    cursor that the previous page returned as ``next_after``)."""
    key, descending = sort.lstrip("-"), sort.startswith("-")
    if key not in SORTS and key not in ("churn", "clv"):
        raise ValidationFailed(f"Cannot sort customers by {sort!r}.", details=[{"field": "sort", "message": "unknown"}],
                               hint="Sort by id, name, external_id, signup_date, churn or clv (a leading '-' for "
                                    "descending).")
    cursor = _decode_after(key, after) if after else None
    unfiltered = not (q and q.strip()) and segment is None and min_churn is None and not risk_band \
        and min_clv is None and not (viewer is not None and viewer.served_only)
    if unfiltered and key == "id":
        # The common case (the default list, an API client walking every customer): prebuilt statements only.
        rows, total = _id_page(session, descending=descending, cursor=cursor, offset=offset, limit=limit)
        sort_values = None
    else:
        rows, total, sort_values = _filtered_page(session, viewer=viewer, q=q, segment=segment, min_churn=min_churn,
                                                  risk_band=risk_band, min_clv=min_clv, key=key,
                                                  descending=descending, cursor=cursor, limit=limit, offset=offset,
                                                  unfiltered=unfiltered)
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = None
    if more and rows:
        last = rows[-1]
        next_after = _encode_after(key, sort_values[-1] if sort_values else getattr(last, key, None), last.id)
    scores = _page_scores(session, [r[0] for r in rows])
    return CustomerPage(items=_read_rows(rows, scores, viewer), total=total, next_after=next_after)


def _filtered_page(session: Session, *, viewer, q, segment, min_churn, risk_band, min_clv, key: str,
                   descending: bool, cursor, limit: int, offset: int, unfiltered: bool):
    """``(rows, total, sort values of the rows or None)`` for a searched, score-filtered or score-sorted list."""
    stmt = select(*LIST_COLUMNS)
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
    # Outer joins for sorting do not change how many customers there are: the cached total still holds.
    total = (len(_ID_INDEX.ids(session)) if unfiltered else
             session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)
    column = {"churn": churn.c.value if churn is not None else None,
              "clv": clv.c.value if clv is not None else None}.get(key, SORTS.get(key))
    if cursor is not None:
        stmt = stmt.where(_after_condition(column, descending, *cursor))
    by_score = column is not Customer.id and key in ("churn", "clv")
    if by_score:
        stmt = stmt.add_columns(column.label("sort_value"))
    order = column.desc() if descending else column.asc()
    tiebreak = Customer.id.desc() if descending else Customer.id.asc()
    rows = session.execute(stmt.order_by(order.nulls_last(), tiebreak).limit(limit + 1).offset(offset)).all()
    return rows, total, [r.sort_value for r in rows[:limit]] if by_score else None


def _page_scores(session: Session, ids: list[int]) -> dict[int, dict]:
    """The newest churn, CLV and segment score of each listed customer: only the page's ids, light columns."""
    out: dict[int, dict] = defaultdict(dict)
    conn = session.connection()  # Core statements: the ORM layer would only add per-row overhead
    for start in range(0, len(ids), ml_service.ID_CHUNK):
        for score in conn.execute(_LIST_SCORE_ROWS, {"ids": ids[start:start + ml_service.ID_CHUNK]}).all():
            mine = out[score[1]]
            have = mine.get(score[2])
            # newest by (version, scored_at, id), as ml_service.latest_scores
            if have is None or (score[3], score[6], score[0]) > (have[3], have[6], have[0]):
                mine[score[2]] = score
    return out


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _churn(score: CustomerScore | None) -> ChurnRead | None:
    if score is None:
        return None
    info = score.explanation if isinstance(score.explanation, dict) else {}
    reasons = [ChurnReason(text=str(r.get("text", "")), feature=r.get("feature"),
                           contribution=_number(r.get("contribution")))
               if isinstance(r, dict) else ChurnReason(text=str(r)) for r in info.get("reasons") or []]
    try:
        as_of = dt.date.fromisoformat(str(info["as_of"])[:10]) if info.get("as_of") else None
    except ValueError:
        as_of = None
    return ChurnRead(probability=score.value, band=score.label, reasons=reasons, as_of=as_of,
                     model_version=score.model_version, scored_at=score.scored_at)


def _clv(score: CustomerScore | None) -> ClvRead | None:
    if score is None:
        return None
    info = score.explanation if isinstance(score.explanation, dict) else {}
    return ClvRead(value=score.value, status=score.label, p_alive=_number(info.get("p_alive")),
                   expected_purchases_30d=_number(info.get("expected_purchases_30d")),
                   expected_purchases_90d=_number(info.get("expected_purchases_90d")),
                   expected_purchases_365d=_number(info.get("expected_purchases_365d")),
                   expected_spend_per_purchase=_number(info.get("expected_spend_per_purchase")),
                   model_version=score.model_version, scored_at=score.scored_at)


def _rfm(score: CustomerScore | None) -> RfmRead | None:
    if score is None or score.value is None:
        return None
    info = score.explanation if isinstance(score.explanation, dict) else {}

    def whole(key: str) -> int | None:
        value = _number(info.get(key))
        return int(value) if value is not None else None

    return RfmRead(cell=f"{int(score.value):03d}", r=whole("r"), f=whole("f"), m=whole("m"),
                   recency_days=whole("recency_days"), frequency=whole("frequency"),
                   monetary=_number(info.get("monetary")))


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
        rfm=_rfm(latest.get("segment")), cluster=latest["cluster"].label if "cluster" in latest else None,
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
