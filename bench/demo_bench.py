"""Time to simulate and load the demo store (50,000 customers by default) into SQLite and PostgreSQL.

    .venv/bin/python bench/demo_bench.py [--customers 50000] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Prints a table and writes bench/out/demo.json.
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

import psycopg

from aicrm.core.db import make_engine
from aicrm.core.migrate import upgrade
from aicrm.demo.service import load_demo
from aicrm.ingest.service import store_counts

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--postgres-url", default=os.environ.get("AICRM_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("sqlite", "postgresql"):
            name = None
            if store == "sqlite":
                url = f"sqlite:///{tmp}/demo.db"
            else:
                name = f"aicrm_bench_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(args.postgres_url, autocommit=True) as c:
                    c.execute(f'CREATE DATABASE "{name}"')
                url = args.postgres_url.rsplit("/", 1)[0] + "/" + name
            try:
                engine = make_engine(url)
                upgrade(engine=engine)
                t = time.perf_counter()
                info = load_demo(engine=engine, customers=args.customers, seed=42)
                seconds = time.perf_counter() - t
                counts = store_counts(engine=engine)
                engine.dispose()
            finally:
                if name:
                    with psycopg.connect(args.postgres_url, autocommit=True) as c:
                        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            rows.append({"store": store, "customers": args.customers, "seconds": round(seconds, 1),
                         "simulate_s": info["simulate_s"], "order_lines": counts["order_lines"],
                         "interactions": counts["interactions"]})
    print(f"{'store':<11} {'customers':>9} {'order lines':>11} {'simulate s':>10} {'total s':>8}")
    for r in rows:
        print(f"{r['store']:<11} {r['customers']:>9,} {r['order_lines']:>11,} {r['simulate_s']:>10.1f} {r['seconds']:>8.1f}")
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").write_text(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
        "load_average": os.getloadavg(), "results": rows}, indent=2))


if __name__ == "__main__":
    main()
