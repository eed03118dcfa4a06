"""Mapping files: how a source file's columns become aicrm's fields, and how one row splits into entities."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aicrm.core.errors import ImportRejected

Kind = Literal["customers", "products", "orders", "feedback", "interactions", "tickets"]
KINDS: tuple[str, ...] = ("customers", "products", "orders", "feedback", "interactions", "tickets")

# Field name -> type, per kind. Types: id, str, text, email, phone, number, int, date, datetime, bool.
FIELDS: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "id", "name": "str", "first_name": "str", "last_name": "str", "email": "email",
        "phone": "phone", "country": "str", "city": "str", "gender": "str", "birth_date": "date",
        "signup_date": "date",
    },
    "products": {
        "product_id": "id", "name": "str", "description": "text", "category": "str", "unit_price": "number",
        "available": "bool",
    },
    "orders": {
        "order_id": "id", "ordered_at": "datetime", "customer_id": "id", "product_id": "id", "product_name": "str",
        "category": "str", "quantity": "number", "unit_price": "number", "amount": "number", "status": "str",
        "channel": "str", "currency": "str", "country": "str", "city": "str", "customer_name": "str",
        "email": "email", "phone": "phone", "shipped_at": "datetime", "delivered_at": "datetime",
        "promised_at": "datetime",
    },
    "feedback": {
        "feedback_id": "id", "customer_id": "id", "order_id": "id", "product_id": "id", "text": "text",
        "rating": "number", "language": "str", "channel": "str", "created_at": "datetime",
    },
    "interactions": {
        "interaction_id": "id", "customer_id": "id", "channel": "str", "type": "str", "occurred_at": "datetime",
    },
    "tickets": {
        "ticket_id": "id", "customer_id": "id", "order_id": "id", "subject": "str", "description": "text",
        "category": "str", "status": "str", "priority": "str", "channel": "str", "created_at": "datetime",
        "closed_at": "datetime",
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "orders": ("order_id", "ordered_at"),
    "feedback": ("created_at",),
    "interactions": ("type", "occurred_at"),
    "tickets": ("ticket_id", "created_at"),
}


class PrefixRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    prefix: str


class Mapping(BaseModel):
    """A mapping file (YAML). Every key is optional; without a mapping, columns must already carry aicrm's names."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind | None = None
    source: str | None = None
    format: Literal["csv", "parquet", "jsonl", "whitespace"] | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"
    header: bool = True
    names: list[str] | None = Field(default=None, description="column names for a file without a header line")
    columns: dict[str, str] = Field(default_factory=dict, description="source column -> aicrm field")
    types: dict[str, str] = Field(default_factory=dict, description="aicrm field -> type override")
    date_formats: dict[str, str] = Field(default_factory=dict, description="aicrm field -> strptime format")
    defaults: dict[str, Any] = Field(default_factory=dict, description="aicrm field -> value when absent or blank")
    attributes: list[str] | Literal["*"] = Field(default_factory=list,
                                                 description="source columns kept as free attributes ('*' = all unmapped)")
    drop_duplicates: bool = True
    order_id_from_line: bool = Field(default=False, description="each line is its own order (files without order numbers)")
    cancelled_when: PrefixRule | None = None
    max_abs_amount: float = 1e9
    max_abs_quantity: float = 1e7


def load_mapping(path: Path | str) -> Mapping:
    """Read and check a mapping file; errors name the file and the offending key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ImportRejected(f"{path}: no such mapping file", hint="See examples/mappings/ for examples.") from exc
    except yaml.YAMLError as exc:
        raise ImportRejected(f"{path}: not valid YAML ({exc})", hint="Check the indentation and quoting.") from exc
    if not isinstance(data, dict):
        raise ImportRejected(f"{path}: a mapping file must be a YAML mapping (key: value)")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ImportRejected(f"{path}: invalid mapping", details=problems,
                             hint="See examples/mappings/ for the keys a mapping file accepts.") from exc
    return mapping


def check_fields(mapping: Mapping, kind: str, *, origin: str) -> None:
    """Refuse mappings that name fields the kind does not have."""
    known = FIELDS[kind]
    bad = [f for f in mapping.columns.values() if f not in known]
    bad += [f for f in list(mapping.types) + list(mapping.date_formats) + list(mapping.defaults) if f not in known]
    if bad:
        raise ImportRejected(
            f"{origin}: unknown field(s) for {kind}: {sorted(set(bad))}",
            hint=f"Fields of {kind}: {', '.join(known)}.",
        )
