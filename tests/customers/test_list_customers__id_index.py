"""The unfiltered customer list pages through an in-memory id index: offsets and cursors land on the right rows,
new customers show at once (even when another connection adds them), deletions once the index is invalidated."""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from aicrm.core.models import Customer
from aicrm.customers import service


def _ids(page) -> list[int]:
    return [c.id for c in page.items]


def test_list_customers__offsets_and_cursors_follow_inserts_and_deletes(engine):
    with engine.begin() as conn:  # ids with gaps: 2, 4, ..., 80
        conn.execute(insert(Customer), [{"id": i, "source": "t", "external_id": f"E{i}"} for i in range(2, 81, 2)])
    every = list(range(2, 81, 2))
    with Session(engine) as s:
        for offset in (0, 1, 17, 38, 39, 40, 55):
            page = service.list_customers(session=s, limit=3, offset=offset)
            assert _ids(page) == every[offset:offset + 3] and page.total == 40
            down = service.list_customers(session=s, sort="-id", limit=3, offset=offset)
            assert _ids(down) == every[::-1][offset:offset + 3]
        # A cursor that is not (or no longer) an id still continues after it; offset then skips from there.
        assert _ids(service.list_customers(session=s, limit=2, after="7")) == [8, 10]
        assert _ids(service.list_customers(session=s, limit=2, after="7", offset=1)) == [10, 12]
        assert _ids(service.list_customers(session=s, sort="-id", limit=2, after="7")) == [6, 4]
        assert service.list_customers(session=s, limit=2, after="80").next_after is None
    # Another connection (another process, an import) adds customers: the next page sees them, no waiting.
    with engine.begin() as conn:
        conn.execute(insert(Customer), [{"id": i, "source": "t", "external_id": f"E{i}"} for i in (81, 90)])
    with Session(engine) as s:
        page = service.list_customers(session=s, limit=5, offset=38)
        assert _ids(page) == [78, 80, 81, 90] and page.total == 42 and page.next_after is None
    # A deletion shows once the index is invalidated (whoever deletes customers calls it; other processes see it
    # when their index expires).
    with engine.begin() as conn:
        conn.execute(delete(Customer).where(Customer.id <= 10))
    service.invalidate_total()
    with Session(engine) as s:
        page = service.list_customers(session=s, limit=3)
        assert _ids(page) == [12, 14, 16] and page.total == 37
        assert service.count(session=s) == 37
