"""Support assistant: turn latency over scripted conversations on a demo store, and voice recognition accuracy.

    .venv/bin/python bench/assistant_bench.py [--customers 2000] [--turns 300] [--no-voice] [--backends minilm,tfidf]

A turn is the whole ``reply_to`` call an API request makes: load the conversation, understand the message, decide,
act on the store (order look-ups, return requests, tickets, contact changes), store both messages and the state,
commit (SQLite file). The scripts cycle through order status over two turns, returns, a known customer choosing
among recent orders, help-article questions, an out-of-scope question, a handoff, a contact change with e-mail
verification and the public order-number + e-mail check. Each backend is warmed up with one conversation first
(model loading and first-call costs are reported separately).

Voice: Debian espeak-ng speaks a fixed list of customer requests (two voices); pocketsphinx with the assistant's
domain language model transcribes them. Reported: word error rate, share recognised exactly, share whose intent
(by the assistant's classifier) is the same as the intent of the text that was spoken, and recognition time.

Prints tables and writes bench/out/assistant.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicrm.assistant.encoder import embeddings_available
from aicrm.assistant.knowledge import KnowledgeBase, load_articles
from aicrm.assistant.nlu import load_default_nlu
from aicrm.assistant.service import Assistant, reply_to
from aicrm.core.db import make_engine
from aicrm.core.migrate import upgrade
from aicrm.core.models import Customer, Order
from aicrm.demo.service import load_demo

ROOT = Path(__file__).resolve().parent
VOICE_SENTENCES = [
    "where is my parcel", "I want to return it", "I want to talk to a human", "what is your returns policy",
    "hello", "where is my order", "I want to cancel my order", "my package never arrived",
    "how long does delivery take", "do you accept paypal", "thank you", "I forgot my password",
    "I want to change my phone number", "the parcel arrived damaged", "can I speak to a person",
    "when will my order arrive", "has my order shipped yet", "I would like a refund for my shoes",
    "the box was crushed and the item is broken", "goodbye", "how much does shipping cost",
    "I received the wrong item", "can I cancel my order please", "is this jacket available in blue",
    "my order is late", "I need to reset my password", "please update my email address",
    "what payment methods do you accept", "I want my money back", "track my order",
]
VOICES = {"en-us+f3 140 wpm": ["-v", "en-us+f3", "-s", "140"], "en-us 150 wpm": ["-v", "en-us", "-s", "150"]}


def scripts(engine) -> list[tuple[dict, list[str]]]:
    """(conversation options, messages) with real order numbers and customers from the store."""
    with Session(engine) as s:
        shipped = s.scalars(select(Order).where(Order.status == "shipped").order_by(Order.id)).all()
        delivered = s.scalars(select(Order).where(Order.status == "delivered").order_by(Order.id.desc())
                              .limit(200)).all()
        pairs = s.execute(select(Order.external_id, Customer.email).join(Customer, Customer.id == Order.customer_id)
                          .where(Order.status.in_(("shipped", "delivered")), Customer.email != "")
                          .order_by(Order.id.desc()).limit(200)).all()
        customers = s.scalars(select(Customer).where(Customer.email != "").order_by(Customer.id).limit(200)).all()
        buyers = s.scalars(select(Order.customer_id).where(Order.status.in_(("shipped", "processing")))
                           .order_by(Order.id)).all()
    out = []
    for i in range(200):
        a, b = shipped[i % len(shipped)], delivered[i % len(delivered)]
        number, email = pairs[i % len(pairs)]
        customer = customers[i % len(customers)]
        out += [
            ({}, ["where is my parcel?", a.external_id]),
            ({}, [f"what's the status of order {b.external_id}?", "I want to return it"]),
            ({"customer_id": buyers[i % len(buyers)]}, ["where is my order?", "the first one"]),
            ({}, ["What payment methods do you accept?", "How long does delivery take?", "thanks"]),
            ({}, ["What is the capital of France?"]),
            ({"customer_id": customer.id}, ["hello", "I want a human"]),
            ({"customer_id": customer.id}, ["I want to change my phone number", customer.email,
                                            f"+44 7700 9{i:05d}"]),
            ({"public": True}, ["where is my parcel?", f"{number} {email}"]),
        ]
    return out


def run_turns(engine, assistant: Assistant, conversations, turns: int) -> list[float]:
    latencies = []
    for options, messages in conversations:
        conversation, public_id = None, None
        for text in messages:
            started = time.perf_counter()
            with Session(engine) as session:
                turn = reply_to(session=session, text=text, conversation_id=conversation, public_id=public_id,
                                customer_id=options.get("customer_id"), public=options.get("public", False),
                                assistant=assistant)
            latencies.append(time.perf_counter() - started)
            conversation, public_id = turn.conversation_id, turn.public_id
            if len(latencies) >= turns:
                return latencies
    return latencies


def summary(latencies: list[float]) -> dict:
    ms = np.asarray(latencies) * 1000
    return {"turns": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}


def bench_voice(assistant: Assistant) -> dict:
    from aicrm.assistant.voice import SpeechRecognizer, word_error_rate

    started = time.perf_counter()
    recognizer = SpeechRecognizer()
    build = time.perf_counter() - started
    out = {"recognizer_build_s": build, "sentences": len(VOICE_SENTENCES), "voices": {}}
    for name, args in VOICES.items():
        wers, exact, same_intent, seconds, audio, samples = [], [], [], [], [], []
        for text in VOICE_SENTENCES:
            wav = subprocess.run(["espeak-ng", *args, "--stdout", text], capture_output=True, check=True).stdout
            heard = recognizer.transcribe(wav)
            wer = word_error_rate(text, heard.raw)
            wers.append(wer)
            exact.append(wer == 0)
            want, got = assistant.understand(text), assistant.understand(heard.text or "-")
            same_intent.append(want.intent == got.intent)
            seconds.append(heard.seconds)
            audio.append(heard.audio_seconds)
            samples.append({"said": text, "heard": heard.text, "wer": round(wer, 3)})
        out["voices"][name] = {"wer": float(np.mean(wers)), "exact": float(np.mean(exact)),
                               "same_intent": float(np.mean(same_intent)),
                               "recognition_p50_s": float(np.median(seconds)),
                               "real_time_factor": float(np.sum(seconds) / np.sum(audio)), "samples": samples}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--backends", default="minilm,tfidf" if embeddings_available() else "tfidf")
    parser.add_argument("--no-voice", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="aicrm-assistant-bench-"))
    engine = make_engine(f"sqlite:///{folder / 'aicrm.db'}")
    upgrade(engine=engine)
    t = time.perf_counter()
    load_demo(engine=engine, customers=args.customers, seed=11)
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "load_avg_1m": os.getloadavg()[0]},
               "store": {"customers": args.customers, "load_s": time.perf_counter() - t}, "latency": {}}
    conversations = scripts(engine)
    for backend in args.backends.split(","):
        embeddings = backend == "minilm"
        t = time.perf_counter()
        nlu = load_default_nlu(embeddings=embeddings, cache_dir=folder / "models")
        assistant = Assistant(nlu=nlu, knowledge=KnowledgeBase(embeddings=embeddings).fit(load_articles()))
        ready = time.perf_counter() - t
        t = time.perf_counter()
        run_turns(engine, assistant, conversations[:8], 20)  # warm-up: first encoder calls, SQLite page cache
        warm = time.perf_counter() - t
        latencies = run_turns(engine, assistant, conversations[8:], args.turns)
        results["latency"][backend] = {**summary(latencies), "model_ready_s": ready, "warm_up_s": warm,
                                       "nlu": nlu.model_name_, "knowledge": assistant.knowledge.backend_}
    results["machine"]["load_avg_1m_after"] = os.getloadavg()[0]
    if not args.no_voice and shutil.which("espeak-ng"):
        backend = args.backends.split(",")[0]
        nlu = load_default_nlu(embeddings=backend == "minilm", cache_dir=folder / "models")
        results["voice"] = bench_voice(Assistant(nlu=nlu, knowledge=KnowledgeBase(embeddings=backend == "minilm")
                                                 .fit(load_articles())))
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Assistant turn latency ({args.customers:,}-customer demo store, SQLite, "
                        f"{os.cpu_count()} CPUs, load {results['machine']['load_avg_1m']:.1f})")
    for col in ("understanding", "turns", "p50 ms", "p95 ms", "p99 ms", "max ms", "model ready s"):
        table.add_column(col, justify="right" if col != "understanding" else "left")
    for backend, r in results["latency"].items():
        table.add_row(r["nlu"], str(r["turns"]), f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}",
                      f"{r['max_ms']:.1f}", f"{r['model_ready_s']:.1f}")
    console.print(table)
    if "voice" in results:
        v = Table(title=f"Voice: espeak-ng speech, pocketsphinx + domain LM ({results['voice']['sentences']} requests)")
        for col in ("voice", "word error rate", "exact", "same intent", "recognition p50 s", "real-time factor"):
            v.add_column(col, justify="right" if col != "voice" else "left")
        for name, r in results["voice"]["voices"].items():
            v.add_row(name, f"{r['wer']:.3f}", f"{r['exact']:.0%}", f"{r['same_intent']:.0%}",
                      f"{r['recognition_p50_s']:.2f}", f"{r['real_time_factor']:.2f}")
        console.print(v)
    out = ROOT / "out" / "assistant.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    console.print(f"Wrote {out.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
