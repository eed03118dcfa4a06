"""``aicrm assistant``: the support assistant's command-line face (registered in ``aicrm.cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aicrm.core.errors import AicrmError

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _callback() -> None:
    """The support assistant: understand messages, evaluate intent models."""


def evaluate_files(*, train: Path, test: Path, text_col: str = "text", label_col: str = "label",
                   oos_label: str = "oos", embeddings: bool | None = None, in_scope_target: float = 0.99) -> dict:
    """Train an intent classifier on one labelled file and score it on another (see ``evaluate_intents``)."""
    from aicrm.assistant.nlu import IntentClassifier, evaluate_intents
    from aicrm.assistant.training_data import load_examples
    from aicrm.core.errors import ValidationFailed

    train_texts, train_labels = load_examples(train, text_col=text_col, label_col=label_col)
    test_texts, test_labels = load_examples(test, text_col=text_col, label_col=label_col)
    if oos_label in train_labels:
        raise ValidationFailed(f"{train}: has rows labelled {oos_label!r} in column {label_col!r}",
                               hint="Training needs in-scope rows only: out-of-scope messages are rejected by a "
                                    "threshold learned from them. Remove those rows, or name another --oos-label.")
    model = IntentClassifier(embeddings=embeddings, in_scope_target=in_scope_target).fit(train_texts, train_labels)
    result = evaluate_intents(model, test_texts, test_labels, oos_label=oos_label)
    return {"train": str(train), "test": str(test), "n_train": model.n_train_, "n_intents": len(model.classes_),
            **result}


@app.command("intents-evaluate")
def intents_evaluate(
    train: Annotated[Path, typer.Option("--train", help="Labelled training examples (CSV/TSV or intents YAML).")],
    test: Annotated[Path, typer.Option("--test", help="Labelled test examples (CSV/TSV or intents YAML).")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column holding the message text.")] = "text",
    label_col: Annotated[str, typer.Option("--label-col", help="Column holding the intent.")] = "label",
    oos_label: Annotated[str, typer.Option("--oos-label", help="Test label of out-of-scope rows.")] = "oos",
    embeddings: Annotated[bool | None, typer.Option(
        "--embeddings/--no-embeddings", help="Use MiniLM sentence embeddings (default: when installed).")] = None,
    in_scope_target: Annotated[float, typer.Option(
        "--in-scope-target", help="Share of held-back in-scope training rows the rejection thresholds keep.")] = 0.99,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train on --train, then report accuracy, macro-F1 and out-of-scope recall on --test."""
    from aicrm.cli import fail

    try:
        report = evaluate_files(train=train, test=test, text_col=text_col, label_col=label_col, oos_label=oos_label,
                                embeddings=embeddings, in_scope_target=in_scope_target)
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(report))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Intents: trained on {train.name} ({report['n_train']:,} examples, "
                        f"{report['n_intents']} intents), tested on {test.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [("model", report["model"]), ("test rows", f"{report['n_test']:,}")]
    if "accuracy" in report:
        rows += [("accuracy (in scope; rejection = error)", f"{report['accuracy']:.4f}"),
                 ("macro F1 (in scope)", f"{report['macro_f1']:.4f}"),
                 ("in-scope rows rejected", f"{report['in_scope_rejected']:.2%}")]
    if "oos_recall" in report:
        rows.append((f"out-of-scope recall ({report['n_oos']:,} rows)", f"{report['oos_recall']:.4f}"))
    rows += [("confidence threshold", f"{report['threshold']:.3f}"),
             ("similarity threshold", f"{report['similarity_threshold']:.3f}"),
             ("training seconds", f"{report['train_seconds']:.1f}")]
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
    if report.get("unknown_test_intents"):
        Console(stderr=True).print(f"[yellow]Test intents absent from training (always wrong): "
                                   f"{', '.join(report['unknown_test_intents'][:10])}[/]")


@app.command("chat")
def chat(
    customer: Annotated[str | None, typer.Option("--customer", help="Speak as this customer (id or external id, "
                                                                    "e.g. CUST-000042).")] = None,
    conversation: Annotated[int | None, typer.Option("--conversation", help="Continue this conversation id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per answer.")] = False,
) -> None:
    """Chat with the assistant in the terminal: one message per line (stdin may be piped); Ctrl-D ends."""
    import sys

    from sqlalchemy.orm import Session

    from aicrm.assistant.service import get_assistant, reply_to, resolve_customer
    from aicrm.cli import fail, ready_engine

    engine = ready_engine()
    interactive = sys.stdin.isatty()
    try:
        with Session(engine) as session:
            customer_id = resolve_customer(session=session, key=customer) if customer else None
        assistant = get_assistant()
    except AicrmError as exc:
        fail(exc)
    if interactive and not as_json:
        typer.echo("Type a message (Ctrl-D to quit).")
    while True:
        if interactive and not as_json:
            typer.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            with Session(engine) as session:
                turn = reply_to(session=session, text=line, conversation_id=conversation, customer_id=customer_id,
                                channel="cli", assistant=assistant)
        except AicrmError as exc:
            fail(exc)
        conversation = turn.conversation_id
        if as_json:
            keys = ("conversation_id", "reply", "intent", "confidence", "handoff", "action", "ticket_id",
                    "return_request_id", "order_number")
            typer.echo(json.dumps({k: getattr(turn, k) for k in keys}))
        else:
            typer.echo(f"assistant> {turn.reply}")
