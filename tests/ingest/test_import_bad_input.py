"""Bad input is refused whole with file, line and column named; the store keeps what it had."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from aicrm.core.errors import ImportRejected
from aicrm.ingest.mapping import Mapping
from aicrm.ingest.service import import_file, store_counts

GOOD = "customer_id,name,email,birth_date\nA,Ann,ann@example.com,1990-01-01\nB,Bob,bob@example.com,1980-05-05\n"


@pytest.fixture
def stored(engine, tmp_path):
    """A store that already holds two customers, to show a refused file loses nothing."""
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    import_file(engine=engine, kind="customers", path=path)
    return engine


def _refused(engine, tmp_path, name: str, content: bytes | str, kind: str = "customers", **kw) -> ImportRejected:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = store_counts(engine=engine)
    with pytest.raises(ImportRejected) as info:
        import_file(engine=engine, kind=kind, path=path, **kw)
    assert store_counts(engine=engine) == before
    text = str(info.value)
    assert str(path) in text
    return info.value


def test_import_rejects__empty_file(stored, tmp_path):
    err = _refused(stored, tmp_path, "empty.csv", b"")
    assert "empty" in err.message


def test_import_rejects__header_only(stored, tmp_path):
    err = _refused(stored, tmp_path, "header.csv", "customer_id,name\n")
    assert "no data rows" in err.message


def test_import_rejects__missing_required_column(stored, tmp_path):
    err = _refused(stored, tmp_path, "nocol.csv", "name,email\nZed,zed@example.com\n")
    assert "line 1" in err.message and "customer_id" in err.message and "name, email" in err.hint


def test_import_rejects__wrong_encoding_names_line(stored, tmp_path):
    content = "customer_id,name\nZ1,Zoë\n".encode("utf-8") + "Z2,Müller\n".encode("latin-1")
    err = _refused(stored, tmp_path, "latin.csv", content)
    assert "line 3" in err.message and "UTF-8" in err.hint.upper().replace("UTF8", "UTF-8")


def test_import_rejects__bad_rows_named_by_line_and_column(stored, tmp_path):
    content = ("customer_id,name,email,birth_date,signup_date\n"
               "N1,Nia,nia@example.com,1991-02-03,2020-01-01\n"
               "N2,Noa,not-an-email,1991-02-30,2020-01-01\n"
               "N3,Ned,ned@example.com,2199-01-01,yesterday\n"
               ",Nobody,x@example.com,,\n")
    err = _refused(stored, tmp_path, "bad.csv", content)
    details = "\n".join(err.details)
    assert "4 row" not in err.message and "3 row(s)" in err.message
    assert "bad.csv:3: column 'email': not a valid e-mail address" in details
    assert "bad.csv:3: column 'birth_date': not a date" in details
    assert "bad.csv:4: column 'birth_date': absurd date" in details
    assert "bad.csv:4: column 'signup_date': not a date" in details
    assert "bad.csv:5: column 'customer_id': required value is missing" in details


def test_import_rejects__unparseable_and_absurd_numbers(stored, tmp_path):
    content = ("order_id,ordered_at,quantity,unit_price\n"
               "1,2024-01-01,2,abc\n"
               "2,2024-01-01,1e12,1.0\n"
               "3,01/02/2024,1,1.0\n")
    err = _refused(stored, tmp_path, "orders.csv", content, kind="orders")
    details = "\n".join(err.details)
    assert "orders.csv:2: column 'unit_price': not a number (value 'abc')" in details
    assert "orders.csv:3: column 'quantity': absurd value" in details
    assert "orders.csv:4: column 'ordered_at': not a date" in details


def test_import_rejects__huge_field(stored, tmp_path):
    err = _refused(stored, tmp_path, "huge.csv", "customer_id,name\nH1," + "x" * 5000 + "\n")
    assert "huge.csv:2: column 'name': value too long" in "\n".join(err.details)


def test_import_rejects__lists_first_twenty_and_total(stored, tmp_path):
    rows = "".join(f"X{i},x{i},bad-email-{i}\n" for i in range(30))
    err = _refused(stored, tmp_path, "many.csv", "customer_id,name,email\n" + rows)
    assert len(err.details) == 20 and "30 row(s)" in err.message and "30 in all" in err.message


def test_import_skip_invalid__stores_good_rows_and_writes_reject_file(stored, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("customer_id,name,email\nM1,Mo,mo@example.com\nM2,Mu,broken\nM3,Mi,mi@example.com\n")
    report = import_file(engine=stored, kind="customers", path=path, skip_invalid=True, reject_dir=tmp_path)
    assert report.rejected_rows == 1 and report.created == {"customers": 2}
    rejects = (tmp_path / "mixed.rejects.csv").read_text()
    assert "M2" in rejects and "email: not a valid e-mail address" in rejects and rejects.splitlines()[1].startswith("3,")
    assert store_counts(engine=stored)["customers"] == 4


def test_import_rejects__mapping_names_absent_column(stored, tmp_path):
    err = _refused(stored, tmp_path, "m.csv", GOOD, mapping=Mapping(columns={"CustID": "customer_id"}))
    assert "CustID" in err.message and "customer_id, name, email, birth_date" in err.hint


def test_cli_import__bad_file_prints_reasons_without_traceback(tmp_path, monkeypatch):
    from aicrm.cli import app
    from aicrm.core.config import get_settings
    from aicrm.core.db import _engine_for

    monkeypatch.setenv("AICRM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    _engine_for.cache_clear()
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,email\nQ1,nope\n")
    result = CliRunner().invoke(app, ["import", "customers", str(path)])
    assert result.exit_code == 1
    assert "bad.csv:2: column 'email': not a valid e-mail address" in result.output
    assert "--skip-invalid" in result.output and "Traceback" not in result.output
    path.write_text("customer_id,email\nQ1,nope\nQ2,q2@example.com\n")
    ok = CliRunner().invoke(app, ["import", "customers", str(path), "--skip-invalid"])
    assert ok.exit_code == 0, ok.output
    assert "Rejected 1 row(s)" in ok.output and (tmp_path / "bad.rejects.csv").exists()
    get_settings.cache_clear()
    _engine_for.cache_clear()
