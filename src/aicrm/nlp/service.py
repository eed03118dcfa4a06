"""Text-analytics services: load, analyse with the pure functions, summarise or store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from aicrm.core.errors import ValidationFailed
from aicrm.nlp.analyse import analyse_feedback
from aicrm.nlp.readers import read_table
from aicrm.nlp.survey import csat, dissatisfaction_drivers, nps


def summarise_analysis(analysed: pd.DataFrame, *, rating_col: str | None = None) -> dict:
    """Counts by language and sentiment, NPS/CSAT when rated, personal-data counts, topics and their drivers."""
    summary: dict = {
        "rows": int(len(analysed)),
        "languages": {str(k): int(v) for k, v in analysed["language"].value_counts().items()},
        "sentiment": {str(k): int(v) for k, v in analysed["sentiment_label"].value_counts().items()},
        "texts_with_pii": int(sum(bool(p) for p in analysed["pii"])),
        "pii_types": sorted({e["type"] for ents in analysed["pii"] for e in ents}),
        "nps": None,
        "csat": None,
    }
    rated = rating_col and rating_col in analysed.columns and analysed[rating_col].notna().any()
    if rated:
        top = analysed[rating_col].max()
        if analysed[rating_col].min() >= 1 and top <= 5:
            summary["csat"] = float(csat(analysed, rating_col=rating_col)["csat"].iloc[0])
        elif analysed[rating_col].min() >= 0 and top <= 10:
            summary["nps"] = float(nps(analysed, rating_col=rating_col)["nps"].iloc[0])
    frame = analysed.assign(topic=analysed["topic"].fillna("(none)"))
    agg = {"texts": ("sentiment_score", "size"), "mean_sentiment": ("sentiment_score", "mean")}
    if rated:
        agg["mean_rating"] = (rating_col, "mean")
    topics = frame.groupby("topic").agg(**agg).round(4).sort_values("texts", ascending=False).reset_index()
    summary["topics"] = json.loads(topics.to_json(orient="records", force_ascii=False))
    summary["drivers"] = []
    if rated and analysed["topic"].notna().any():
        drivers = dissatisfaction_drivers(analysed, topic_col="topic", rating_col=rating_col)
        summary["drivers"] = json.loads(drivers.to_json(orient="records", force_ascii=False))
    return summary


def analyse_file(
    path: Path,
    *,
    text_col: str = "text",
    rating_col: str | None = None,
    n_topics: int | str = "auto",
    sep: str | None = None,
    columns: Sequence[str] | None = None,
    output: Path | None = None,
) -> dict:
    """Analyse a feedback file; write the analysed rows to ``output`` when given; return the summary."""
    table = read_table(Path(path), sep=sep, columns=columns)
    for col in (text_col, rating_col):
        if col and col not in table.columns:
            raise ValidationFailed(
                f"{path}: no column {col!r}; columns are {', '.join(map(str, table.columns))}",
                hint="Name the columns with --text-col/--rating-col, or --columns for files without a header.",
            )
    if rating_col:
        ratings = pd.to_numeric(table[rating_col].replace("", None), errors="coerce")
        bad = ratings.isna() & table[rating_col].astype(str).str.strip().ne("")
        if bad.any():
            first = int(bad.to_numpy().nonzero()[0][0])
            raise ValidationFailed(
                f"{path}, line {table.attrs['first_line'] + first}, column {rating_col!r}: "
                f"rating {table[rating_col].iloc[first]!r} is not a number ({int(bad.sum())} such rows)",
                hint="Ratings must be numbers (1-5 or 0-10) or empty.",
            )
        table[rating_col] = ratings
    analysed = analyse_feedback(table, text_col=text_col, rating_col=rating_col, n_topics=n_topics)
    if output:
        written = analysed.assign(
            pii=[json.dumps(p, ensure_ascii=False) for p in analysed["pii"]],
            analysis=[json.dumps(a, ensure_ascii=False) for a in analysed["analysis"]],
        )
        written.to_csv(output, index=False)
    return {"file": str(path), **summarise_analysis(analysed, rating_col=rating_col)}
