"""The shipped mapping files import the public datasets with the published counts, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from aicrm.core.db import session_scope
from aicrm.core.models import Customer, Order
from aicrm.ingest.mapping import load_mapping
from aicrm.ingest.service import import_file, store_counts
from tests.conftest import REPO, dataset_path

MAPPINGS = REPO / "examples" / "mappings"


@pytest.mark.slow
def test_import_online_retail__published_counts_and_idempotent(engine):
    path = dataset_path("online_retail", "online_retail.csv.gz")
    mapping = load_mapping(MAPPINGS / "online_retail.yaml")
    report = import_file(engine=engine, kind="orders", path=path, mapping=mapping)
    assert report.rows_read == 541_909 and report.duplicates_dropped == 5_268
    counts = store_counts(engine=engine)
    assert (counts["customers"], counts["orders"], counts["order_lines"]) == (4372, 25900, 536641)
    assert counts["products"] == 4070
    again = import_file(engine=engine, kind="orders", path=path, mapping=mapping)
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert store_counts(engine=engine) == counts
    with session_scope(engine) as s:
        cancelled = s.execute(select(Order).where(Order.status == "cancelled")).scalars().all()
        anonymous = s.execute(select(Order).where(Order.customer_id.is_(None))).scalars().all()
    assert len(cancelled) == 3836 and all(o.external_id.startswith("C") for o in cancelled)
    assert len(anonymous) > 1000


@pytest.mark.slow
def test_import_cdnow__every_line_an_order(engine):
    path = dataset_path("cdnow", "CDNOW_master.txt")
    report = import_file(engine=engine, kind="orders", path=path, mapping=load_mapping(MAPPINGS / "cdnow.yaml"))
    assert report.rows_read == 69_659 and report.duplicates_dropped == 0
    counts = store_counts(engine=engine)
    assert (counts["customers"], counts["orders"], counts["order_lines"]) == (23570, 69659, 69659)


def test_import_telco__customers_with_attributes(engine):
    path = dataset_path("telco_churn", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    import_file(engine=engine, kind="customers", path=path, mapping=load_mapping(MAPPINGS / "telco_churn.yaml"))
    assert store_counts(engine=engine)["customers"] == 7043
    with session_scope(engine) as s:
        c = s.execute(select(Customer).where(Customer.external_id == "7590-VHVEG")).scalar_one()
    assert c.gender == "Female" and c.attributes["Contract"] == "Month-to-month" and c.attributes["Churn"] == "No"
    assert c.source == "telco"


def test_mapping_files__all_shipped_mappings_load():
    names = sorted(p.name for p in Path(MAPPINGS).glob("*.yaml"))
    assert names == ["cdnow.yaml", "online_retail.yaml", "telco_churn.yaml"]
    for p in MAPPINGS.glob("*.yaml"):
        assert load_mapping(p).kind is not None
