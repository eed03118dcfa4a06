"""``/api/customers``: search, 360-degree view, create, update and notes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette import status

from aicrm.auth.deps import CustomerReader, CustomerWriter, NoteWriter, SessionDep
from aicrm.customers import service
from aicrm.customers.schemas import (
    CustomerCreate, CustomerDetail, CustomerNoteCreate, CustomerNoteRead, CustomerPage, CustomerRead, CustomerSort,
    CustomerUpdate,
)
from aicrm.web.export import CSV_RESPONSE, ExportFormat, page_or_csv

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
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
    format: ExportFormat = "json",
):
    """Customers with their current churn risk, CLV and segment (analysts: contact details masked;
    agents: only the customers they serve)."""
    return page_or_csv(lambda lim, off: service.list_customers(
        session=session, viewer=viewer, q=q, segment=segment, min_churn=min_churn, risk_band=risk_band,
        min_clv=min_clv, sort=sort, limit=lim, offset=off),
        limit=limit, offset=offset, format=format, filename="customers.csv")


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
