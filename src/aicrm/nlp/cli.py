"""CLI commands of this domain (registered in ``aicrm.cli`` as ``aicrm text ...``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aicrm.core.errors import AicrmError

app = typer.Typer(no_args_is_help=True)

SepOpt = Annotated[str | None, typer.Option("--sep", help="Column separator; default: tab for .txt/.tsv, comma otherwise. '\\t' means tab.")]
ColumnsOpt = Annotated[str | None, typer.Option("--columns", help="Comma-separated column names of files WITHOUT a header line, e.g. text,label.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@app.callback()
def _callback() -> None:
    """Text analytics: language, sentiment, topics, personal data, surveys."""


def _fail(exc: AicrmError) -> None:
    from aicrm.cli import fail

    fail(exc)


def _columns(columns: str | None) -> list[str] | None:
    return [c.strip() for c in columns.split(",") if c.strip()] if columns else None


@app.command("sentiment-evaluate")
def sentiment_evaluate(
    data: Annotated[list[Path], typer.Argument(help="One or more CSV/TSV files with the same columns; evaluated together.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text.")] = "text",
    label_col: Annotated[str, typer.Option("--label-col", help="Column with the sentiment label.")] = "label",
    lang: Annotated[str, typer.Option("--lang", help="auto, en or zh.")] = "auto",
    folds: Annotated[int, typer.Option("--folds", help="Stratified cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the fold split and models.")] = 0,
    sep: SepOpt = None,
    columns: ColumnsOpt = None,
    embeddings: Annotated[bool, typer.Option("--embeddings/--no-embeddings", help="Use sentence embeddings for English when installed.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Cross-validated accuracy and macro-F1 of the sentiment classifier on labelled texts."""
    from aicrm.nlp.readers import labelled_texts
    from aicrm.nlp.sentiment import evaluate_sentiment

    try:
        texts, labels, dropped = labelled_texts(data, text_col=text_col, label_col=label_col, sep=sep, columns=_columns(columns))
        result = evaluate_sentiment(texts, labels, lang=lang, folds=folds, seed=seed, use_embeddings="auto" if embeddings else False)
    except AicrmError as exc:
        _fail(exc)
    result = {"files": [str(p) for p in data], "dropped_empty_text": dropped, **result}
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    typer.echo(
        f"{result['rows']:,} texts from {len(data)} file(s), classes {result['classes']}, {folds}-fold CV\n"
        f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}\nmodel: {result['model']}"
    )


@app.command("sentiment")
def sentiment(text: Annotated[str, typer.Argument(help="The text to score.")], as_json: JsonOpt = False) -> None:
    """Language and zero-label sentiment of one text (VADER for English, built-in lexicon for Chinese)."""
    from aicrm.nlp.language import detect_language
    from aicrm.nlp.sentiment import score_sentiment

    lang = detect_language(text)
    label, score = score_sentiment(text, lang=lang)
    result = {"language": lang, "sentiment_label": label, "sentiment_score": score}
    typer.echo(json.dumps(result, ensure_ascii=False) if as_json else f"{lang}: {label} ({score:+.3f})")


@app.command("mask")
def mask(
    text: Annotated[str, typer.Argument(help="The text to mask.")],
    order_pattern: Annotated[str | None, typer.Option("--order-pattern", help="Regular expression of your order numbers.")] = None,
    engine: Annotated[str, typer.Option("--engine", help="auto (presidio when installed), presidio or regex.")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Mask personal data (emails, phones, cards, IBANs, order numbers, names) in one text."""
    from aicrm.nlp.pii import DEFAULT_ORDER_PATTERN, PiiDetector

    try:
        detector = PiiDetector(order_pattern=order_pattern or DEFAULT_ORDER_PATTERN, engine=engine)
    except AicrmError as exc:
        _fail(exc)
    masked, entities = detector.mask(text)
    if as_json:
        typer.echo(json.dumps({"masked": masked, "entities": entities, "engine": detector.engine_}, ensure_ascii=False))
        return
    typer.echo(masked)


@app.command("analyse")
def analyse(
    data: Annotated[Path, typer.Argument(help="CSV/TSV file of feedback.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the text.")] = "text",
    rating_col: Annotated[str | None, typer.Option("--rating-col", help="Column with a 1-5 or 0-10 rating (optional).")] = None,
    n_topics: Annotated[str, typer.Option("--topics", help="Number of topics, or auto.")] = "auto",
    sep: SepOpt = None,
    columns: ColumnsOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the analysed rows to this CSV file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Language, sentiment, topics and personal data of a feedback file, with a summary."""
    from aicrm.nlp.service import analyse_file

    try:
        k: int | str = int(n_topics) if n_topics != "auto" else "auto"
    except ValueError:
        _fail(AicrmError(f"--topics must be a number or auto, got {n_topics!r}", hint="For example --topics 6."))
    try:
        summary = analyse_file(data, text_col=text_col, rating_col=rating_col, n_topics=k, sep=sep, columns=_columns(columns), output=output)
    except AicrmError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"{summary['rows']:,} texts; languages {summary['languages']}; sentiment {summary['sentiment']}")
    if summary.get("nps") is not None:
        console.print(f"NPS {summary['nps']:+.1f}")
    if summary.get("csat") is not None:
        console.print(f"CSAT {summary['csat']:.1f}%")
    console.print(f"texts with personal data: {summary['texts_with_pii']:,} {summary['pii_types']}")
    table = Table(title="topics")
    for col in ("topic", "texts", "mean_sentiment", "mean_rating"):
        table.add_column(col)
    for row in summary["topics"]:
        table.add_row(str(row["topic"]), str(row["texts"]), f"{row['mean_sentiment']:+.3f}", "" if row.get("mean_rating") is None else f"{row['mean_rating']:.2f}")
    console.print(table)
    for row in summary["drivers"][:3]:
        if row["rating_diff"] < 0:
            console.print(f"driver of dissatisfaction: {row['topic']} (rating {row['rating_diff']:+.2f} vs the rest, low-rating lift {row['lift']:.2f})")
    if output:
        console.print(f"analysed rows written to {output}")
