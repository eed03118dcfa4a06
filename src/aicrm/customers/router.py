"""``/api/customers``: search, 360-degree view, create, update and notes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette import status

from aicrm.auth.deps import CustomerReader, CustomerWriter, NoteWriter, SessionDep
from aicrm.customers import service
from aicrm.customers.schemas import (
    CustomerCreate, CustomerDetail, CustomerNoteCreate, CustomerNoteRead, CustomerPage, CustomerRead, CustomerSort,
    CustomerUpdate,
)
from aicrm.web.export import CSV_RESPONSE, EXPORT_CHUNK, EXPORT_MAX, ExportFormat, csv_response

router = APIRouter(prefix="/api/customers", tags=["customers"])


@router.get("", response_model=CustomerPage, responses=CSV_RESPONSE)
def list_customers(
    session: SessionDep, viewer: CustomerReader,
    q: Annotated[str | None, Query(max_length=200, description="Search name, e-mail, external id or id.")] = None,
    segment: Annotated[str | None, Query(max_length=128, description="Segment name (see /api/segments).")] = None,
    min_churn: Annotated[float | None, Query(ge=0, le=1, description="Churn probability at least this.")] = None,
    risk_band: Annotated[str | None, Query(max_length=64, description="Churn risk band, e.g. high.")] = None,
    min_clv: Annotated[float | None, Query(description="12-month value at least this.")] = None,
    sort: Annotated[CustomerSort, Query(description="Field to sort by; a leading '-' sorts descending.")] = "id",
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    after: Annotated[str | None, Query(max_length=512, description=(
        "Keyset cursor: the `next_after` of the previous page (same sort and filters). Pages stay fast however deep "
        "you go; `offset`, if given too, skips rows after the cursor."))] = None,
    format: ExportFormat = "json",
):
    """Customers with their current churn risk, CLV and segment (analysts: contact details masked;
    agents: only the customers they serve)."""
    def fetch(lim: int, off: int, cursor: str | None = after) -> CustomerPage:
        return service.list_customers(session=session, viewer=viewer, q=q, segment=segment, min_churn=min_churn,
                                      risk_band=risk_band, min_clv=min_clv, sort=sort, limit=lim, offset=off,
                                      after=cursor)

    if format == "csv":
        return csv_response(list(_every_row(fetch)), filename="customers.csv", model=CustomerRead)
    # Serialised here in one pass: FastAPI would dump the page, validate the dump and serialise it again.
    return Response(fetch(limit, offset).model_dump_json(), media_type="application/json")


def _every_row(fetch) -> Iterator[CustomerRead]:
    """Every matching customer (up to the export cap), walked with the keyset cursor: no page re-reads the last."""
    page = fetch(EXPORT_CHUNK, 0, None)
    seen = 0
    while True:
        yield from page.items[:EXPORT_MAX - seen]
        seen += len(page.items)
        if page.next_after is None or seen >= EXPORT_MAX:
            return
        page = fetch(EXPORT_CHUNK, 0, page.next_after)


@router.post("", response_model=CustomerRead, status_code=status.HTTP_201_CREATED)
def create_customer(session: SessionDep, viewer: CustomerWriter, data: CustomerCreate) -> CustomerRead:
    """Create a customer."""
    return service.create(session=session, data=data, viewer=viewer)


@router.get("/{customer_id}", response_model=CustomerDetail)
def get_customer(session: SessionDep, viewer: CustomerReader, customer_id: int) -> CustomerDetail:
    """The 360-degree view of one customer: profile, churn risk with reasons, CLV, segment, recommendations,
    recent orders, feedback, tickets, notes and interactions."""
    return service.get_detail_or_raise(session=session, customer_id=customer_id, viewer=viewer)


@router.patch("/{customer_id}", response_model=CustomerRead)
def update_customer(session: SessionDep, viewer: CustomerWriter, customer_id: int,
                    data: CustomerUpdate) -> CustomerRead:
    """Change a customer's profile fields."""
    return service.update(session=session, customer_id=customer_id, data=data, viewer=viewer)


@router.get("/{customer_id}/notes", response_model=list[CustomerNoteRead])
def list_notes(session: SessionDep, viewer: CustomerReader, customer_id: int) -> list[CustomerNoteRead]:
    """Notes on a customer, newest first."""
    return service.list_notes_or_raise(session=session, customer_id=customer_id, viewer=viewer)


@router.post("/{customer_id}/notes", response_model=CustomerNoteRead, status_code=status.HTTP_201_CREATED)
def add_note(session: SessionDep, author: NoteWriter, customer_id: int, data: CustomerNoteCreate) -> CustomerNoteRead:
    """Add a note to a customer."""
    return service.add_note(session=session, customer_id=customer_id, data=data, author=author)
