"""Latency and throughput of the REST API on a 50,000-customer store, over loopback.

    python bench/api_bench.py [--customers 50000] [--workers 2] [--database-url URL] [--out bench/out/api_bench.json]

Without --database-url it builds a throw-away SQLite store of synthetic customers, orders and scores (bulk insert),
starts the real server (`aicrm serve`, N uvicorn workers), signs in once, then measures GET /api/customers/{id},
GET /api/customers?limit=50&offset=... and its keyset form GET /api/customers?limit=50&after=... with 1 and 16
concurrent clients (threads with keep-alive HTTP/1.1 connections). Every loop is bounded in requests and seconds.
Prints a table (with the machine's load average before and after: the figures mean little without it), writes JSON.
Targets: p99 < 20 ms at 1 client; >= 500 requests/s at 16 clients (2-core machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AICRM = Path(sys.executable).with_name("aicrm")
PASSWORD = "bench-password-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_store(url: str, customers: int, seed: int = 7) -> None:
    """Synthetic customers (with churn, CLV and segment scores) and about 3 orders each, bulk-inserted."""
    from sqlalchemy import insert

    from aicrm.auth import service as auth_service
    from aicrm.auth.schemas import UserCreate
    from aicrm.core.db import make_engine
    from aicrm.core.migrate import upgrade
    from aicrm.core.models import Customer, CustomerScore, Order
    from sqlalchemy.orm import Session

    rng = np.random.default_rng(seed)
    engine = make_engine(url)
    upgrade(engine=engine)
    now = dt.datetime(2026, 6, 30)
    segments = ["Champions", "Loyal", "At risk", "Hibernating", "New"]
    chunk = 10_000
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, customers, chunk):
            n = min(chunk, customers - start)
            ids = range(start + 1, start + n + 1)
            conn.execute(insert(Customer), [
                {"id": i, "source": "bench", "external_id": f"B{i:07d}", "name": f"Customer {i}",
                 "email": f"c{i}@bench.example", "phone": f"+44 20 {i:07d}", "country": "United Kingdom",
                 "city": "London", "signup_date": dt.date(2024, 1, 1) + dt.timedelta(days=int(i % 700)),
                 "created_at": now, "updated_at": now} for i in ids])
            p = rng.beta(2, 5, n)
            clv = rng.gamma(2.0, 150.0, n)
            seg = rng.integers(0, len(segments), n)
            rows = []
            for k, i in enumerate(ids):
                rows.append({"customer_id": i, "model_name": "churn", "model_version": 1, "value": float(p[k]),
                             "label": "high" if p[k] >= 0.66 else "medium" if p[k] >= 0.33 else "low",
                             "explanation": {"reasons": [{"text": "Days since last order", "contribution": 0.4}]},
                             "scored_at": now})
                rows.append({"customer_id": i, "model_name": "clv", "model_version": 1, "value": float(clv[k]), "label": None,
                             "explanation": {"p_alive": 0.7, "expected_purchases_90d": 1.2}, "scored_at": now})
                rows.append({"customer_id": i, "model_name": "segment", "model_version": 1, "value": None,
                             "label": segments[seg[k]], "explanation": None, "scored_at": now})
            conn.execute(insert(CustomerScore), rows)
            orders = []
            counts = rng.poisson(3, n)
            for k, i in enumerate(ids):
                for j in range(int(counts[k])):
                    orders.append({"source": "bench", "external_id": f"O{i:07d}-{j}", "customer_id": i,
                                   "ordered_at": now - dt.timedelta(days=int(rng.integers(0, 700))),
                                   "status": "completed", "total_amount": float(rng.gamma(2, 20)), "currency": "GBP"})
            conn.execute(insert(Order), orders)
    with Session(engine) as s:
        auth_service.create(session=s, data=UserCreate(email="bench@example.com", password=PASSWORD, role="manager"))
    engine.dispose()
    print(f"built {customers:,} customers in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def run_load(base: str, token: str, make_path, clients: int, requests: int, max_seconds: float) -> dict:
    """``requests`` GETs shared by ``clients`` threads (each with its own keep-alive connection)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [requests]
    deadline = time.monotonic() + max_seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rnd = random.Random(seed)
        mine: list[float] = []
        bad = 0
        # http.client rather than httpx: on a 2-core box the load generator competes with the server for CPU,
        # and the standard library's client costs several times less per request.
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
        try:
            while time.monotonic() < deadline:
                with lock:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
                path = make_path(rnd)
                t = time.perf_counter()
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t)
                bad += resp.status != 200
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 2),
            "throughput_rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--database-url", help="an existing store (must have user bench@example.com); default: build one")
    ap.add_argument("--requests", type=int, default=3000, help="requests per scenario (bounded by --max-seconds)")
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "api_bench.json")
    args = ap.parse_args()
    load_before = os.getloadavg()

    tmp = None
    url = args.database_url
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="aicrm-bench-")
        url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
        build_store(url, args.customers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # No assistant warm-up: it loads language models in a background thread for the first ~20 s of each worker's life,
    # which is exactly when the first scenario runs; this benchmark is about the customers API.
    env = {**os.environ, "AICRM_DATABASE_URL": url, "AICRM_LOG_LEVEL": "WARNING", "AICRM_ASSISTANT_WARM_UP": "false"}
    server = subprocess.Popen([str(AICRM), "serve", "--port", str(port), "--workers", str(args.workers),
                               "--no-access-log"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start: " + (server.stderr.read().decode() if server.stderr else ""))
            time.sleep(0.2)
        token = httpx.post(f"{base}/api/auth/token",
                           data={"username": "bench@example.com", "password": PASSWORD}).json()["access_token"]
        n = args.customers
        scenarios = {
            "GET /api/customers/{id}": lambda rnd: f"/api/customers/{rnd.randint(1, n)}",
            "GET /api/customers?limit=50&offset=k": lambda rnd: f"/api/customers?limit=50&offset={rnd.randint(0, n - 50)}",
            "GET /api/customers?limit=50&after=k":
                lambda rnd: f"/api/customers?limit=50&after={rnd.randint(0, n - 50)}",
        }
        results = []
        for name, make_path in scenarios.items():
            run_load(base, token, make_path, 4, 300, 15)  # warm-up: connections, caches, SQLite page cache
            for clients in (1, 16):
                r = run_load(base, token, make_path, clients, args.requests, args.max_seconds)
                r["endpoint"] = name
                results.append(r)
    finally:
        server.terminate()
        server.wait(timeout=30)
        if tmp is not None:
            tmp.cleanup()
    header = f"{'endpoint':40s} {'clients':>7s} {'requests':>8s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'errors':>6s}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['endpoint']:40s} {r['clients']:7d} {r['requests']:8d} {r['throughput_rps']:8.1f} {r['p50_ms']:8.2f} "
              f"{r['p95_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:6d}")
    one = [r for r in results if r["clients"] == 1]
    many = [r for r in results if r["clients"] == 16]
    verdict = {"p99_under_20ms_at_1_client": all(r["p99_ms"] < 20 for r in one),
               "at_least_500_rps_at_16_clients": all(r["throughput_rps"] >= 500 for r in many)}
    print("targets:", verdict)
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in load_before)}; "
          f"after: {', '.join(f'{v:.2f}' for v in load_after)}; {os.cpu_count()} CPUs")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "api", "customers": args.customers, "workers": args.workers,
        "database": url.split(":", 1)[0], "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                       "load_avg_1m": load_after[0],
                                                       "load_avg_before": [round(v, 2) for v in load_before],
                                                       "load_avg_after": [round(v, 2) for v in load_after]},
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "results": results, "targets": verdict,
    }, indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
