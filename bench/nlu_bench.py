"""Intent classification on BANKING77 (official split) and the shop assistant's default intents.

    OMP_NUM_THREADS=1 .venv/bin/python bench/nlu_bench.py [--models minilm,tfidf] [--latency-messages 200]

(One torch thread makes the per-message CPU figures complete: they count the calling thread only.)

Prints a table and writes bench/out/nlu.json. For each model: training time on the 10,003 BANKING77 training
sentences (sentence encoding included, from a cold start of the encoder's memo), accuracy and macro-F1 on the 3,080
test sentences (an out-of-scope rejection counts as an error), the per-message latency of ``parse`` (one message
at a time, p50/p95), and two out-of-scope checks with thresholds learned from in-scope training rows only:
  * banking77-heldout: 10 intents (seed 0) removed from training; their test rows must be rejected (near-domain).
  * shop-holdout: the default e-commerce intents vs tests/assistant/data/shop_holdout.csv (60 in-scope messages
    written apart from the training file, 30 unrelated questions such as weather or recipes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from aicrm.assistant.nlu import IntentClassifier, evaluate_intents
from aicrm.assistant.training_data import DEFAULT_INTENTS, load_examples

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("AICRM_SHARED_DIR", ROOT.parent / "shared")) / "datasets" / "banking77"
HOLDOUT = ROOT / "tests" / "assistant" / "data" / "shop_holdout.csv"


def latency_ms(model: IntentClassifier, texts: list[str]) -> dict[str, float]:
    # Wall time and this thread's CPU time: on a shared machine the wall figure measures the neighbours too.
    model.parse("warm up")
    wall, cpu = [], []
    for text in texts:
        t, c = time.perf_counter(), time.thread_time()
        model.parse(text)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    return {"p50_ms": float(np.percentile(wall, 50)), "p95_ms": float(np.percentile(wall, 95)),
            "p50_cpu_ms": float(np.percentile(cpu, 50)), "p95_cpu_ms": float(np.percentile(cpu, 95))}


def run(model_kind: str, train: pd.DataFrame, test: pd.DataFrame, n_latency: int) -> dict:
    embeddings = model_kind == "minilm"
    c = time.process_time()
    model = IntentClassifier(embeddings=embeddings).fit(train["text"].tolist(), train["category"].tolist())
    train_cpu = time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    scores = evaluate_intents(model, test["text"].tolist(), test["category"].tolist())
    out = {"model": model.model_name_, "train_seconds": model.train_seconds_, "train_cpu_seconds": train_cpu,
           "eval_seconds": time.perf_counter() - t, "eval_cpu_seconds": time.process_time() - c,
           **{k: scores[k] for k in ("accuracy", "macro_f1", "in_scope_rejected")},
           "threshold": model.threshold_, "similarity_threshold": model.similarity_threshold_,
           "cv_accuracy": model.cv_accuracy_}
    # Latency on texts the encoder has not memoised: fresh strings built from the test set.
    fresh = [f"{text} please" for text in test["text"].sample(n_latency, random_state=1)]
    out.update(latency_ms(model, fresh))

    rng = np.random.default_rng(0)
    held = set(rng.choice(sorted(train["category"].unique()), 10, replace=False))
    sub = train[~train["category"].isin(held)]
    oos_model = IntentClassifier(embeddings=embeddings).fit(sub["text"].tolist(), sub["category"].tolist())
    labels = np.where(test["category"].isin(held), "oos", test["category"]).tolist()
    r = evaluate_intents(oos_model, test["text"].tolist(), labels)
    out["heldout_oos"] = {"held_out_intents": sorted(held), "accuracy": r["accuracy"], "oos_recall": r["oos_recall"],
                          "in_scope_rejected": r["in_scope_rejected"]}

    texts, intents = load_examples(DEFAULT_INTENTS)
    shop = IntentClassifier(embeddings=embeddings).fit(texts, intents)
    ht, hl = load_examples(HOLDOUT)
    r = evaluate_intents(shop, ht, hl)
    out["shop_oos"] = {"train_seconds": shop.train_seconds_, "accuracy": r["accuracy"], "oos_recall": r["oos_recall"],
                       "in_scope_rejected": r["in_scope_rejected"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="minilm,tfidf")
    ap.add_argument("--latency-messages", type=int, default=200)
    args = ap.parse_args()
    train = pd.read_csv(DATA / "train.csv")
    test = pd.read_csv(DATA / "test.csv")
    load_before = os.getloadavg()
    results = [run(kind, train, test, args.latency_messages) for kind in args.models.split(",")]

    table = Table(title="Intent classification: BANKING77 official split (10,003 train / 3,080 test)")
    for col in ("model", "train s (cpu s)", "accuracy", "macro F1", "rejected", "p50 / p95 ms (cpu)",
                "held-out intents: acc / OOS recall", "shop: acc / OOS recall"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        h, s = r["heldout_oos"], r["shop_oos"]
        table.add_row(r["model"], f"{r['train_seconds']:.0f} ({r['train_cpu_seconds']:.0f})", f"{r['accuracy']:.4f}",
                      f"{r['macro_f1']:.4f}", f"{r['in_scope_rejected']:.3f}",
                      f"{r['p50_ms']:.0f} / {r['p95_ms']:.0f} ({r['p50_cpu_ms']:.0f} / {r['p95_cpu_ms']:.0f})",
                      f"{h['accuracy']:.3f} / {h['oos_recall']:.3f}", f"{s['accuracy']:.3f} / {s['oos_recall']:.3f}")
    Console(width=160).print(table)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "nlu.json").write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg()},
        "reference": "fine-tuned BERT 93.66% accuracy on BANKING77 (Casanueva et al. 2020)",
        "results": results}, indent=2))
    print(f"wrote {out / 'nlu.json'}")


if __name__ == "__main__":
    main()
