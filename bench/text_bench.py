"""Text-analytics throughput (items/s) on simulated feedback: prints a table, writes bench/out/text.json.

    .venv/bin/python bench/text_bench.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def _timed(fn, n_items: int) -> dict:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return {"items": n_items, "seconds": round(seconds, 3), "items_per_s": round(n_items / seconds, 1) if seconds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="texts per language")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "text.json")
    args = parser.parse_args()

    from aicrm.nlp.analyse import analyse_feedback
    from aicrm.nlp.embeddings import encode_sentences, get_sentence_encoder
    from aicrm.nlp.language import detect_languages
    from aicrm.nlp.pii import PiiDetector
    from aicrm.nlp.sentiment import SentimentClassifier, chinese_tokens, score_sentiments
    from aicrm.nlp.simulate import simulate_feedback
    from aicrm.nlp.topics import TopicModel

    en = simulate_feedback(args.n, lang="en", random_state=0)
    zh = simulate_feedback(args.n, lang="zh", random_state=0)
    # Make texts distinct so no cache hides the work.
    en_texts = [f"{t} Ref {i}." for i, t in enumerate(en["text"])]
    zh_texts = [f"{t}第{i}次。" for i, t in enumerate(zh["text"])]
    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    chinese_tokens("预热")
    rows["jieba load (s)"] = {"items": 1, "seconds": round(time.perf_counter() - t0, 3), "items_per_s": None}
    rows["language detection (en+zh)"] = _timed(lambda: detect_languages(en_texts + zh_texts), 2 * args.n)
    rows["zero-label sentiment en (VADER)"] = _timed(lambda: score_sentiments(en_texts), args.n)
    rows["zero-label sentiment zh (lexicon)"] = _timed(lambda: score_sentiments(zh_texts), args.n)
    regex = PiiDetector(engine="regex")
    rows["PII regex engine (en+zh)"] = _timed(lambda: [regex.find(t) for t in en_texts + zh_texts], 2 * args.n)
    t0 = time.perf_counter()
    presidio = PiiDetector(engine="auto")
    rows["PII presidio engine load (s)"] = {"items": 1, "seconds": round(time.perf_counter() - t0, 3), "items_per_s": None}
    if presidio.engine_ == "presidio":
        k = min(args.n, 500)
        rows["PII presidio engine (en+zh)"] = _timed(lambda: [presidio.find(t) for t in en_texts[:k] + zh_texts[:k]], 2 * k)
    t0 = time.perf_counter()
    has_encoder = get_sentence_encoder() is not None
    rows["embedding model load (s)"] = {"items": 1, "seconds": round(time.perf_counter() - t0, 3), "items_per_s": None}
    if has_encoder:
        rows["sentence embeddings (MiniLM)"] = _timed(lambda: encode_sentences(en_texts), args.n)
    labels_en = np.where(en["rating"] >= 3, 1, 0)
    labels_zh = np.where(zh["rating"] >= 3, 1, 0)
    model_en = SentimentClassifier(lang="en", use_embeddings=has_encoder)
    rows["sentiment classifier fit en"] = _timed(lambda: model_en.fit(en_texts, labels_en), args.n)
    fresh = [t.replace("Ref", "Case") for t in en_texts]
    rows["sentiment classifier predict en (new texts)"] = _timed(lambda: model_en.predict(fresh), args.n)
    model_zh = SentimentClassifier(lang="zh")
    rows["sentiment classifier fit zh"] = _timed(lambda: model_zh.fit(zh_texts, labels_zh), args.n)
    rows["sentiment classifier predict zh"] = _timed(lambda: model_zh.predict(zh_texts), args.n)
    rows["topic model fit auto en (k=2..10)"] = _timed(lambda: TopicModel().fit(en_texts), args.n)
    rows["topic model fit auto zh (k=2..10)"] = _timed(lambda: TopicModel().fit(zh_texts), args.n)
    table = en.assign(text=[t.replace("Ref", "Item") for t in en_texts])
    rows["analyse_feedback en (regex PII)"] = _timed(lambda: analyse_feedback(table, pii_detector=regex), args.n)

    width = max(map(len, rows))
    print(f"{'step':<{width}}  {'items':>6}  {'seconds':>8}  {'items/s':>9}")
    for name, r in rows.items():
        rate = "" if r["items_per_s"] is None else f"{r['items_per_s']:,.1f}"
        print(f"{name:<{width}}  {r['items']:>6}  {r['seconds']:>8.3f}  {rate:>9}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    args.out.write_text(json.dumps({"n": args.n, "cpus": os.cpu_count(), "load_avg_1m": load, "python": platform.python_version(), "results": rows}, indent=2))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
