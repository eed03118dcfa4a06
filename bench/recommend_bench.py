"""Recommender benchmark: training time and full top-10 scoring time (every user, bought items excluded).

Datasets: MovieLens-100k (random 75/25 per user, seed 0), Online Retail (customer x product, time split),
and a simulated store (default 1M customers x 50k products, ~20 purchases each). EASE is left out of the
simulated store: its dense 50k x 50k inverse needs ~10 GB in float32 and hours on two cores.

    .venv/bin/python bench/recommend_bench.py                      # everything (~5 min on 2 idle cores)
    .venv/bin/python bench/recommend_bench.py --customers 100000   # smaller simulated store
    .venv/bin/python bench/recommend_bench.py --skip-public        # only the simulated store

Prints a table and writes bench/out/recommend.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from aicrm.ml.recommend import (  # noqa: E402
    evaluate_fitted,
    make_recommender,
    read_interaction_file,
    relevant_items,
    split_interactions,
)

SHARED = Path(os.environ.get("AICRM_SHARED_DIR", REPO.parent / "shared")) / "datasets"
RETAIL = dict(user_col="CustomerID", item_col="StockCode", time_col="InvoiceDate", rating_col="Quantity", min_rating=1,
              item_text_col="Description")


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def score_all(model, train: sp.csr_matrix, k: int = 10, batch: int = 20_000):
    """Top-k for the first train.shape[0] users, their train items excluded."""
    users = np.arange(train.shape[0])
    out = np.empty((len(users), k), dtype=np.int64)
    for start in range(0, len(users), batch):
        chunk = users[start:start + batch]
        out[start:start + len(chunk)] = model.recommend(chunk, k, exclude=train[chunk], batch_size=batch)[0]
    return out


def public_rows(algorithms_ml, algorithms_retail):
    rows = []
    ml = SHARED / "movielens_100k" / "u.data"
    retail = SHARED / "online_retail" / "online_retail.csv.gz"
    for name, path, kwargs, split, algorithms in (
        ("movielens-100k", ml, {}, "random", algorithms_ml),
        ("online-retail", retail, RETAIL, "time", algorithms_retail),
    ):
        if not path.exists():
            print(f"skipping {name}: {path} not found", file=sys.stderr)
            continue
        data, read_s = timed(lambda: read_interaction_file(path, **kwargs))
        train_events, test_events = split_interactions(data.events, method=split, test_fraction=0.25, seed=0)
        train = data.matrix(train_events)
        relevant = relevant_items(train, test_events)
        for algorithm, params in algorithms:
            model, fit_s = timed(lambda: make_recommender(algorithm, random_state=0, **params)
                                 .fit(train, data.item_features))
            _, score_s = timed(lambda: score_all(model, train))
            metrics = evaluate_fitted(model, train, relevant, k=10)
            rows.append({"dataset": name, "algorithm": algorithm, "params": params, "users": data.n_users,
                         "items": data.n_items, "interactions": int(train.nnz), "read_s": round(read_s, 2),
                         "fit_s": round(fit_s, 2), "score_top10_s": round(score_s, 2),
                         "precision_at_10": round(metrics["precision_at_k"], 4),
                         "ndcg_at_10": round(metrics["ndcg_at_k"], 4), "split": split})
            print(_line(rows[-1]), flush=True)
    return rows


def simulate_store(customers: int, products: int, per_customer: float, seed: int = 0):
    """Customers with one favourite category (70% of their purchases there), product popularity Zipf(0.8)."""
    rng = np.random.default_rng(seed)
    per_category = 100
    categories = products // per_category
    counts = np.maximum(rng.poisson(per_customer, customers), 1)
    user = np.repeat(np.arange(customers, dtype=np.int32), counts)
    popularity = 1.0 / np.arange(1, products + 1) ** 0.8
    popularity /= popularity.sum()
    category_pop = popularity.reshape(categories, per_category).sum(axis=1)
    favourite = rng.choice(categories, size=customers, p=category_pop / category_pop.sum())
    within = popularity[:per_category] / popularity[:per_category].sum()
    in_favourite = rng.random(len(user)) < 0.7
    item = np.where(in_favourite,
                    favourite[user] * per_category + rng.choice(per_category, size=len(user), p=within),
                    rng.choice(products, size=len(user), p=popularity)).astype(np.int32)
    matrix = sp.csr_matrix((np.ones(len(user), np.float32), (user, item)), shape=(customers, products))
    matrix.sum_duplicates()
    return matrix, favourite, per_category


def simulated_rows(customers: int, products: int, algorithms, score_sample: int):
    (matrix, favourite, per_category), gen_s = timed(lambda: simulate_store(customers, products, 20.0))
    print(f"simulated store: {customers:,} customers x {products:,} products, {matrix.nnz:,} distinct purchases "
          f"({gen_s:.1f} s to generate)", flush=True)
    rows = []
    for algorithm, params in algorithms:
        model, fit_s = timed(lambda: make_recommender(algorithm, random_state=0, **params).fit(matrix))
        # brute-force factor scoring is users x items x factors multiply-adds (1.6e12 at 1M x 50k x 32):
        # on a shared 2-core machine it is timed on a sample and scaled up, and the row says so
        scored = customers if algorithm != "als" else min(customers, score_sample)
        recs, score_s = timed(lambda: score_all(model, matrix[:scored]))
        share = float((recs // per_category == favourite[:scored, None]).mean())
        rows.append({"dataset": "simulated", "algorithm": algorithm, "params": params, "users": customers,
                     "items": products, "interactions": int(matrix.nnz), "fit_s": round(fit_s, 2),
                     "score_top10_s": round(score_s * customers / scored, 2), "scored_users": scored,
                     "favourite_category_share": round(share, 4)})
        if scored < customers:
            rows[-1]["score_top10_s_measured"] = round(score_s, 2)
        print(_line(rows[-1]), flush=True)
        del model
    rows.append({"dataset": "simulated", "algorithm": "ease", "skipped": "50k x 50k dense inverse: ~10 GB float32 "
                 "and hours on 2 cores; EASE(max_items=20000) would keep only the 20k most bought products"})
    return rows


def _line(row) -> str:
    if "skipped" in row:
        return f"{row['dataset']:<15} {row['algorithm']:<11} skipped: {row['skipped']}"
    quality = row.get("precision_at_10", row.get("favourite_category_share", ""))
    return (f"{row['dataset']:<15} {row['algorithm']:<11} {row.get('users', 0):>9,} {row.get('items', 0):>7,} "
            f"{row.get('interactions', 0):>11,} {row.get('fit_s', float('nan')):>8.2f} "
            f"{row.get('score_top10_s', float('nan')):>9.2f} {quality!s:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--als-score-sample", type=int, default=100_000,
                        help="ALS top-10 scoring is timed on this many customers and scaled up")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-simulated", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "recommend.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    print(f"{'dataset':<15} {'algorithm':<11} {'users':>9} {'items':>7} {'interactions':>11} {'fit s':>8} "
          f"{'top-10 s':>9} {'quality':>8}")
    print("(quality: precision@10 on the held-out part; "
          "simulated: share of the list in the customer's favourite category)")
    rows = []
    if not args.skip_public:
        collaborative = [("popularity", {}), ("ease", {}), ("als", {}), ("bpr", {}), ("item_knn", {})]
        rows += public_rows(collaborative, collaborative + [("content", {}), ("hybrid", {})])
    if not args.skip_simulated:
        rows += simulated_rows(args.customers, args.products,
                               [("popularity", {}), ("item_knn", {"K": 20}),
                                ("als", {"factors": 32, "iterations": 10})],
                               args.als_score_sample)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"peak RSS {report['machine']['peak_rss_mb']:,} MB; load average before {load_before[0]:.1f}, "
          f"after {report['machine']['load_average_after'][0]:.1f} (2 cores, shared). Wrote {args.out}")


if __name__ == "__main__":
    main()
