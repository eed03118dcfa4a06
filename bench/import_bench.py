"""Import throughput: Online Retail into SQLite and PostgreSQL with aicrm's importer vs pandas.DataFrame.to_sql.

    .venv/bin/python bench/import_bench.py [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Prints a table and writes bench/out/import.json. Each importer gets a fresh, empty database.
aicrm's figure covers the whole path (read gzip CSV, validate, clean, de-duplicate, split into customers, products,
orders and lines, upsert); to_sql writes the already-parsed, de-duplicated rows to one flat table, its best case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import psycopg
from sqlalchemy import create_engine

from aicrm.core.db import make_engine
from aicrm.core.migrate import upgrade
from aicrm.ingest.mapping import load_mapping
from aicrm.ingest.service import import_file

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AICRM_SHARED_DIR", ROOT.parent / "shared")) / "datasets" / "online_retail" / "online_retail.csv.gz"


def _pg_database(admin_url: str):
    name = f"aicrm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + "/" + name


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_aicrm(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine=engine)
    mapping = load_mapping(ROOT / "examples" / "mappings" / "online_retail.yaml")
    t = time.perf_counter()
    report = import_file(engine=engine, kind="orders", path=DATA, mapping=mapping)
    seconds = time.perf_counter() - t
    engine.dispose()
    return seconds, report.rows_read


def run_to_sql(url: str, frame: pd.DataFrame) -> float:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    t = time.perf_counter()
    frame.to_sql("online_retail", engine, index=False, chunksize=50_000)
    seconds = time.perf_counter() - t
    engine.dispose()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres-url", default=os.environ.get("AICRM_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    if not DATA.exists():
        raise SystemExit(f"needs {DATA} (../shared/datasets beside the repo, or AICRM_SHARED_DIR)")
    frame = pd.read_csv(DATA, dtype={"CustomerID": "float64"}, parse_dates=["InvoiceDate"]).drop_duplicates()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("sqlite", "postgresql"):
            for tool in ("aicrm import", "pandas to_sql"):
                if store == "sqlite":
                    url = f"sqlite:///{tmp}/{uuid.uuid4().hex}.db"
                    name = None
                else:
                    name, url = _pg_database(args.postgres_url)
                try:
                    if tool == "aicrm import":
                        seconds, rows = run_aicrm(url)
                    else:
                        seconds, rows = run_to_sql(url, frame), 541_909
                finally:
                    if name:
                        _drop(args.postgres_url, name)
                results.append({"store": store, "tool": tool, "rows": rows, "seconds": round(seconds, 2),
                                "rows_per_s": round(rows / seconds)})
    for store in ("sqlite", "postgresql"):
        a, b = [r for r in results if r["store"] == store]
        a["speedup_vs_to_sql"] = round(b["seconds"] / a["seconds"], 2)
    print(f"{'store':<11} {'tool':<14} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'x to_sql':>8}")
    for r in results:
        print(f"{r['store']:<11} {r['tool']:<14} {r['rows']:>9,} {r['seconds']:>8.2f} {r['rows_per_s']:>9,} "
              f"{r.get('speedup_vs_to_sql', ''):>8}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d"), "results": results}
    (out / "import.json").write_text(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
