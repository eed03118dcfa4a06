"""CLI commands of this domain (registered in ``aicrm.cli``): ``aicrm recommend evaluate`` and ``top``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aicrm.core.errors import AicrmError

app = typer.Typer(no_args_is_help=True)
console = Console()

ALGORITHM_CHOICES = "auto, ease, als, bpr, item_knn, popularity, content, hybrid"

UserCol = Annotated[str, typer.Option("--user-col",
                                       help="Column with the customer/user id (blank = anonymous: dropped).")]
ItemCol = Annotated[str, typer.Option("--item-col", help="Column with the product/item id.")]
RatingCol = Annotated[str | None, typer.Option("--rating-col",
                                               help="Rating or quantity column, used with --min-rating.")]
MinRating = Annotated[float | None, typer.Option("--min-rating", help="Drop rows whose --rating-col is below this "
                                                 "(e.g. --rating-col Quantity --min-rating 1 drops returns).")]
TimeCol = Annotated[str | None, typer.Option("--time-col", help="Interaction time (ISO date or unix seconds).")]
Sep = Annotated[str | None, typer.Option("--sep",
                                         help="Field separator: ',', '\\t' (or tab), ';', '|'. Default: detected.")]
Columns = Annotated[str | None, typer.Option("--columns", help="Names for a headerless file, comma-separated "
                                             "(default for all-numeric first rows: user,item,rating,timestamp).")]
TextCol = Annotated[str | None, typer.Option("--item-text-col", help="Item description column (content and hybrid).")]
CategoryCol = Annotated[str | None, typer.Option("--item-category-col",
                                                 help="Item category column (content, hybrid, rules).")]
Algorithm = Annotated[str, typer.Option("--algorithm", help=f"One of: {ALGORITHM_CHOICES}.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@app.callback()
def _callback() -> None:
    """Product recommendations: evaluate recommenders on an interactions file, and query one."""


def _read(file, *, user_col, item_col, rating_col, min_rating, time_col, sep, columns, item_text_col,
          item_category_col):
    from aicrm.ml.recommend.reader import read_interaction_file

    names = [c.strip() for c in columns.split(",")] if columns else None
    return read_interaction_file(file, user_col=user_col, item_col=item_col, rating_col=rating_col,
                                 min_rating=min_rating, time_col=time_col, sep=sep, columns=names,
                                 item_text_col=item_text_col,
                                 item_category_col=item_category_col)


def _fail(exc: AicrmError):
    from aicrm.cli import fail

    fail(exc)


@app.command("evaluate")
def evaluate(
    file: Annotated[Path, typer.Argument(help="Interactions file: CSV/TSV, optionally .gz; one row per interaction.")],
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = None,
    min_rating: MinRating = None,
    time_col: TimeCol = None,
    split: Annotated[str, typer.Option(
        "--split", help="random: each user's items at random; time: each user's latest.")] = "random",
    test_fraction: Annotated[float, typer.Option(
        "--test-fraction", help="Share of each user's interactions held out.")] = 0.25,
    k: Annotated[int, typer.Option("--k", help="Length of the recommendation lists scored.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random split and the models.")] = 0,
    algorithm: Algorithm = "auto",
    sep: Sep = None,
    columns: Columns = None,
    item_text_col: TextCol = None,
    item_category_col: CategoryCol = None,
    as_json: AsJson = False,
) -> None:
    """Hold out part of each user's interactions and score top-k lists: precision, recall, nDCG, MAP, coverage.

    Lists never contain the user's train items; test items the user already had in train are not counted
    (they could never be recommended). "auto" chooses algorithm and parameters on a validation split
    carved from the training part only.
    """
    from aicrm.ml.recommend.evaluation import evaluate_recommender

    try:
        data = _read(file, user_col=user_col, item_col=item_col, rating_col=rating_col, min_rating=min_rating,
                     time_col=time_col, sep=sep, columns=columns, item_text_col=item_text_col,
                     item_category_col=item_category_col)
        if as_json:
            result = evaluate_recommender(data, algorithm=algorithm, split=split, test_fraction=test_fraction, k=k,
                                          seed=seed)
        else:
            from aicrm.cli import _RichProgress, progress_bar

            with progress_bar() as bar:
                result = evaluate_recommender(data, algorithm=algorithm, split=split, test_fraction=test_fraction,
                                              k=k, seed=seed, progress=_RichProgress(bar))
    except AicrmError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(result))
        return
    _print_evaluation(file, result)


def _compact(params: dict) -> str:
    return " ".join(f"{key}=({_compact(value)})" if isinstance(value, dict) else f"{key}={value}"
                    for key, value in params.items())


def _print_evaluation(file: Path, result: dict) -> None:
    k = result["k"]
    console.print(f"{file}: {result['users']:,} users, {result['items']:,} items, {result['interactions']:,} "
                  f"interactions; {result['split']} split, {result['test_fraction']:.0%} held out, "
                  f"seed {result['seed']}.",
                  highlight=False)
    table = Table(title=f"{result['algorithm']} {_compact(result['params'])}".strip())
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in (("precision_at_k", f"precision@{k}"), ("recall_at_k", f"recall@{k}"), ("ndcg_at_k", f"nDCG@{k}"),
                       ("map_at_k", f"MAP@{k}"), ("catalog_coverage", "catalogue coverage")):
        table.add_row(label, f"{result[key]:.4f}")
    table.add_row("users evaluated", f"{result['users_evaluated']:,}")
    console.print(table)
    if result.get("validation"):
        val = Table(title="validation (carved from the training part)")
        for col in ("algorithm", "params", f"precision@{k}", f"nDCG@{k}", "seconds"):
            val.add_column(col, justify="left" if col in ("algorithm", "params") else "right")
        for row in result["validation"]:
            val.add_row(row["algorithm"], _compact(row["params"]), f"{row['precision_at_k']:.4f}",
                        f"{row['ndcg_at_k']:.4f}", f"{row['seconds']:.1f}")
        console.print(val)
    for note in result["notes"]:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)


@app.command("top")
def top(
    file: Annotated[Path, typer.Argument(help="Interactions file (as for evaluate).")],
    customer: Annotated[list[str] | None, typer.Option("--customer", help="Customer id to recommend for (repeatable; "
                                                                         "unknown ids get popular items).")] = None,
    also_bought: Annotated[str | None, typer.Option(
        "--also-bought", help="Item id: show what its buyers also bought.")] = None,
    n: Annotated[int, typer.Option("--n", help="How many items.")] = 10,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = None,
    min_rating: MinRating = None,
    time_col: TimeCol = None,
    algorithm: Annotated[str, typer.Option(
        "--algorithm", help=f"One of: {ALGORITHM_CHOICES} (auto tries them all first).")] = "ease",
    max_per_category: Annotated[int | None, typer.Option(
        "--max-per-category", help="At most this many items of one category.")] = None,
    sep: Sep = None,
    columns: Columns = None,
    item_text_col: TextCol = None,
    item_category_col: CategoryCol = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: AsJson = False,
) -> None:
    """Train on the whole file and show top-n items (with reasons) for customers, or an item's also-bought list."""
    from aicrm.core.errors import ValidationFailed
    from aicrm.ml.recommend.service import also_bought_table, fit_recommender, recommendations_table

    try:
        if not customer and not also_bought:
            raise ValidationFailed("nothing to show", hint="Give --customer ID (repeatable) or --also-bought ITEM.")
        data = _read(file, user_col=user_col, item_col=item_col, rating_col=rating_col, min_rating=min_rating,
                     time_col=time_col, sep=sep, columns=columns, item_text_col=item_text_col,
                     item_category_col=item_category_col)
        model, info = fit_recommender(data, algorithm=algorithm, seed=seed)
        rows = []
        if customer:
            recs = recommendations_table(model, data, n=n, customers=customer, max_per_category=max_per_category)
            rows += [{"customer_id": r.customer_id, "rank": int(r.rank), "item": r.product_id, "score": float(r.score),
                      "reason": r.reason} for r in recs.itertuples()]
        if also_bought:
            sims = also_bought_table(model, data, n=n, products=[also_bought])
            rows += [{"also_bought_with": r.product_id, "rank": int(r.rank), "item": r.similar_product_id,
                      "score": float(r.score)} for r in sims.itertuples()]
    except AicrmError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"algorithm": info["algorithm"], "params": info["params"], "rows": rows}, default=str))
        return
    table = Table(title=f"{info['algorithm']} recommendations")
    for col in ("for", "rank", "item", "name", "score", "reason"):
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    features = data.item_features
    has_names = features is not None and "description" in features
    lookup = dict(zip(data.item_ids, features["description"])) if has_names else {}
    for row in rows:
        who = row.get("customer_id") or f"bought {row.get('also_bought_with')}"
        table.add_row(str(who), str(row["rank"]), str(row["item"]), str(lookup.get(row["item"], "") or ""),
                      f"{row['score']:.3f}", row.get("reason", ""))
    console.print(table)


@app.command("for")
def for_customer(
    customer: Annotated[str, typer.Argument(help="The customer's id in aicrm, or its external id.")],
    n: Annotated[int, typer.Option("--n", min=1, max=100, help="How many products.")] = 10,
    source: Annotated[str | None, typer.Option(help="Source system of an external id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Print the stored recommendations of a customer, with reasons (run `aicrm train recommend` first)."""
    from aicrm.cli import ready_engine
    from aicrm.core.db import session_scope
    from aicrm.customers.service import find_id_or_raise
    from aicrm.ml.service import recommendations_for

    try:
        with session_scope(ready_engine()) as s:
            cid = find_id_or_raise(session=s, key=customer, source=source)
            recs = recommendations_for(session=s, customer_id=cid, limit=n)
    except AicrmError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"customer_id": cid, "items": [r.model_dump() for r in recs]}))
        return
    if not recs:
        console.print(f"No recommendations stored for customer {customer}. Run `aicrm train recommend` first.")
        return
    table = Table(title=f"Recommended for customer {customer}")
    for col in ("#", "product", "category", "why"):
        table.add_column(col)
    for r in recs:
        table.add_row(str(r.rank), r.product_name or str(r.product_id), r.category or "", r.reason or "")
    console.print(table)
