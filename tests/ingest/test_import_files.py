"""Imports of well-formed files in every supported format, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from sqlalchemy import select

from aicrm.core.models import Customer, Feedback, Order, OrderLine, Product, Ticket
from aicrm.core.db import session_scope
from aicrm.ingest.mapping import Mapping
from aicrm.ingest.service import import_file, store_counts

CUSTOMERS_CSV = """customer_id;name;email;phone;country;birth_date;signup_date;tier
C1; Ada Lovelace ;ADA@Example.COM ;+44 20 7946 0018;United Kingdom;1990-12-10;2021-01-05;gold
C2;Lin Wei;lin.wei@example.cn;(010) 6552-9988;China;1985-03-01;2022-06-30;silver
C3;Sam Doe;;;United States;;2023-02-11;
"""


def test_import_customers__semicolon_gzip_cleans_and_normalises(engine, tmp_path):
    path = tmp_path / "customers.csv.gz"
    path.write_bytes(gzip.compress(CUSTOMERS_CSV.encode()))
    report = import_file(engine=engine, kind="customers", path=path, source="shop",
                         mapping=Mapping(attributes=["tier"]))
    assert report.created == {"customers": 3}
    with session_scope(engine) as s:
        ada = s.execute(select(Customer).where(Customer.external_id == "C1")).scalar_one()
        lin = s.execute(select(Customer).where(Customer.external_id == "C2")).scalar_one()
    assert ada.name == "Ada Lovelace" and ada.email == "ada@example.com" and ada.phone == "+442079460018"
    assert ada.source == "shop" and ada.attributes == {"tier": "gold"} and str(ada.birth_date) == "1990-12-10"
    assert lin.phone == "01065529988"


def test_import_customers__reimport_changes_nothing_and_update_changes_one(engine, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS_CSV)
    import_file(engine=engine, kind="customers", path=path)
    again = import_file(engine=engine, kind="customers", path=path)
    assert again.created == {"customers": 0} and again.updated == {"customers": 0}
    path.write_text(CUSTOMERS_CSV.replace("Sam Doe", "Samantha Doe"))
    changed = import_file(engine=engine, kind="customers", path=path)
    assert changed.updated == {"customers": 1}
    assert store_counts(engine=engine)["customers"] == 3


def test_import_orders__one_row_splits_into_customers_products_orders_lines(engine, tmp_path):
    rows = pd.DataFrame({
        "order_id": ["O1", "O1", "O2", "C3", "O4"],
        "ordered_at": ["2024-01-02 10:00:00"] * 2 + ["2024-02-03 11:00:00", "2024-02-04 09:00:00", "2024-03-01 08:00:00"],
        "customer_id": ["A", "A", "B", "A", ""],
        "product_id": ["P1", "P2", "P1", "P1", "P2"],
        "product_name": ["Mug", "Tea", "Mug", "Mug", "Tea"],
        "quantity": ["2", "1", "1", "-1", "3"],
        "unit_price": ["5.5", "3", "5.5", "5.5", "3"],
    })
    path = tmp_path / "orders.parquet"
    rows.to_parquet(path)
    mapping = Mapping(cancelled_when={"field": "order_id", "prefix": "C"})
    report = import_file(engine=engine, kind="orders", path=path, mapping=mapping)
    assert report.created == {"customers": 2, "products": 2, "orders": 4, "order_lines": 5}
    with session_scope(engine) as s:
        orders = {o.external_id: o for o in s.execute(select(Order)).scalars()}
        lines = s.execute(select(OrderLine).where(OrderLine.order_id == orders["O1"].id)).scalars().all()
        assert s.execute(select(Product).where(Product.external_id == "P1")).scalar_one().name == "Mug"
    assert orders["C3"].status == "cancelled" and orders["O1"].status == "completed"
    assert orders["O4"].customer_id is None  # anonymous buyer
    assert orders["O1"].total_amount == pytest.approx(14.0)
    assert sorted((ln.line_no, ln.quantity, ln.amount) for ln in lines) == [(1, 2.0, 11.0), (2, 1.0, 3.0)]


def test_import_feedback_and_tickets__jsonl_resolves_and_creates_customers(engine, tmp_path):
    fb = tmp_path / "feedback.jsonl"
    fb.write_text("\n".join(json.dumps(r) for r in [
        {"customer_id": "K1", "text": "Great tea, fast delivery", "rating": 5, "created_at": "2024-05-01T10:00:00"},
        {"customer_id": "K2", "text": "包装破损，很失望", "rating": 1, "created_at": "2024-05-02", "language": "zh"},
    ]))
    tk = tmp_path / "tickets.csv"
    tk.write_text("ticket_id,customer_id,subject,created_at,status\nT1,K1,Where is my parcel?,2024-05-03,\n")
    r1 = import_file(engine=engine, kind="feedback", path=fb)
    r2 = import_file(engine=engine, kind="tickets", path=tk)
    assert r1.created == {"customers": 2, "feedback": 2} and r2.created == {"customers": 0, "tickets": 1}
    assert import_file(engine=engine, kind="feedback", path=fb).created["feedback"] == 0  # stable generated ids
    with session_scope(engine) as s:
        t = s.execute(select(Ticket)).scalar_one()
        zh = s.execute(select(Feedback).where(Feedback.language == "zh")).scalar_one()
    assert t.status == "open" and zh.rating == 1 and "失望" in zh.text


def test_import_dry_run__reports_counts_and_stores_nothing(engine, tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS_CSV.replace(";", ","))
    report = import_file(engine=engine, kind="customers", path=path, dry_run=True)
    assert report.created == {"customers": 3} and report.dry_run
    assert store_counts(engine=engine)["customers"] == 0


def test_import_orders__exact_duplicate_rows_dropped_and_counted(engine, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,ordered_at,product_id,quantity\n1,2024-01-01,P,1\n1,2024-01-01,P,1\n1,2024-01-01,Q,1\n")
    report = import_file(engine=engine, kind="orders", path=path)
    assert report.duplicates_dropped == 1 and report.created["order_lines"] == 2
