"""``aicrm churn …``: evaluate the churn model on a labelled customer table (registered in ``aicrm.cli``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aicrm.core.errors import AicrmError, ValidationFailed

app = typer.Typer(no_args_is_help=True)


@app.callback()
def _callback() -> None:
    """Churn models: evaluate on a labelled table."""


def _in_file(exc: AicrmError, file: Path) -> AicrmError:
    """Name the file in every message the user sees."""
    if not exc.message.startswith(str(file)):
        exc.message = f"{file}: {exc.message}"
    return exc


def load_labelled_table(path: Path, *, target: str):
    """The table as read (all text) and its target column; errors name the file and the column."""
    from aicrm.ingest.readers import read_table

    df, _lines = read_table(path)
    if target not in df.columns:
        close = [c for c in df.columns if c.lower() == target.lower()]
        hint = (f"Did you mean --target {close[0]}?" if close else
                "Pass --target with the column that says whether each customer churned.")
        raise ValidationFailed(f"no column '{target}' (line 1 has: {', '.join(df.columns[:30])})", hint=hint)
    return df.drop(columns=[target]), df[target]


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Argument(help="Customer table (CSV, optionally .gz; Parquet; JSON Lines), one row per customer.")],
    target: Annotated[str, typer.Option("--target", help="Column saying whether the customer churned (Yes/No, 1/0, churned/active...).")],
    positive: Annotated[str | None, typer.Option("--positive", help="The target value that means 'churned' (default: recognised automatically).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20, help="Stratified cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for folds and model.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Cross-validate the churn model (LightGBM, calibrated) and report ROC-AUC, PR-AUC, Brier and lift."""
    from aicrm.cli import _RichProgress, console, fail, progress_bar
    from aicrm.ml.churn import evaluate_churn

    try:
        X, y = load_labelled_table(data, target=target)
        with progress_bar() as bar:
            report = evaluate_churn(X, y, folds=folds, seed=seed, positive=positive, target_name=target,
                                    progress=_RichProgress(bar))
    except AicrmError as exc:
        fail(_in_file(exc, data))
    if as_json:
        typer.echo(json.dumps(report))
        return
    _print_report(console, data, target, report)


def _print_report(console, data: Path, target: str, report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"Churn model on {data.name} (target '{target}', {report['model']['folds']}-fold CV)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    table.add_row("rows", f"{report['rows']:,}", "customers in the table")
    table.add_row("churn rate", f"{report['positive_rate']:.1%}", "share of churned customers")
    table.add_row("ROC-AUC", f"{report['roc_auc']:.3f}", "ranking quality (0.5 = chance, 1 = perfect)")
    table.add_row("PR-AUC", f"{report['pr_auc']:.3f}", f"average precision (chance = {report['positive_rate']:.3f})")
    table.add_row("Brier", f"{report['brier']:.3f}", "mean squared error of the probabilities (lower is better)")
    table.add_row("lift @ 10%", f"{report['lift_at_10pct']:.2f}x", "churn rate in the riskiest 10% vs overall")
    console.print(table)
    if report["excluded_columns"]:
        console.print("Left out of the model:", highlight=False)
        for col, why in report["excluded_columns"].items():
            console.print(f"  {col}: {why}", highlight=False, markup=False)
