"""The ``aicrm`` command line: thin commands over the same services the API and dashboard use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aicrm.assistant.cli import app as assistant_app
from aicrm.auth.cli import app as users_app
from aicrm.core.errors import AicrmError
from aicrm.ml.churn_cli import app as churn_app
from aicrm.ml.clv_cli import app as clv_app
from aicrm.ml.recommend.cli import app as recommend_app
from aicrm.nlp.cli import app as text_app
from aicrm.web.cli import serve

app = typer.Typer(
    name="aicrm",
    help="aicrm: a self-hosted, AI-driven CRM. Import customer data, score it, act on it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(churn_app, name="churn", help="Churn models: evaluate on a labelled table.")
app.add_typer(clv_app, name="clv", help="Customer lifetime value: evaluate BG/NBD-family models.")
app.add_typer(recommend_app, name="recommend", help="Product recommendations: evaluate and query.")
app.add_typer(text_app, name="text", help="Text analytics: sentiment, topics, PII.")
app.add_typer(assistant_app, name="assistant", help="The support assistant: chat and evaluate intents.")
app.add_typer(users_app, name="users")
app.command("serve")(serve)

console = Console()
err_console = Console(stderr=True)


def fail(exc: AicrmError) -> None:
    """Print a domain error the way a user should see it (no traceback) and exit with status 1."""
    err_console.print(f"[bold red]Error:[/] {exc.message}", highlight=False, markup=True, soft_wrap=True)
    for line in exc.details[:20]:
        err_console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if len(exc.details) > 20:
        err_console.print(f"  ... and {len(exc.details) - 20} more", highlight=False)
    if exc.hint:
        err_console.print(f"[yellow]{exc.hint}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def ready_engine():
    """The configured store, migrated to the current schema on first use."""
    from aicrm.core.db import get_engine
    from aicrm.core.migrate import ensure_schema

    engine = get_engine()
    ensure_schema(engine=engine)
    return engine


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or upgrade the store's schema to the current version."""
    from aicrm.core.db import get_engine
    from aicrm.core.migrate import upgrade

    engine = get_engine()
    rev = upgrade(engine=engine, revision=revision)
    console.print(f"Schema of {engine.url.render_as_string(hide_password=True)} is at revision {rev}.")


@app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False) -> None:
    """Count what the store holds."""
    from aicrm.ingest.service import store_counts

    counts = store_counts(engine=ready_engine())
    if as_json:
        typer.echo(json.dumps(counts))
        return
    table = Table(title="aicrm store")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for key, value in counts.items():
        table.add_row(key, f"{value:,}")
    console.print(table)


class _RichProgress:
    """Adapts the services' ``progress(stage, done, total)`` callback to a Rich progress bar."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.tasks: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1))
        self.progress.update(self.tasks[stage], completed=done, total=max(total, 1))


def progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description:<11}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=False)


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="What the file holds: customers, products, orders, feedback, "
                                             "interactions or tickets.")],
    file: Annotated[Path, typer.Argument(help="CSV (any delimiter, optionally .gz), Parquet or JSON Lines file.")],
    mapping: Annotated[Path | None, typer.Option(help="Mapping YAML: column names, types, date formats, rules.")] = None,
    source: Annotated[str | None, typer.Option(help="Name of the source system (default: the mapping's, or 'default').")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Import the good rows; write rejected rows to a reject file.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count everything, store nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
) -> None:
    """Import a file into the store (transactional: a refused file changes nothing)."""
    from aicrm.ingest.mapping import load_mapping
    from aicrm.ingest.service import import_file

    try:
        engine = ready_engine()
        mp = load_mapping(mapping) if mapping else None
        with progress_bar() as bar:
            report = import_file(engine=engine, kind=kind, path=file, mapping=mp, source=source,
                                 skip_invalid=skip_invalid, dry_run=dry_run, progress=_RichProgress(bar))
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    verb = "Would import" if dry_run else "Imported"
    console.print(f"{verb} {report.rows_read:,} rows of {kind} from {file} (source '{report.source}') "
                  f"in {report.seconds:.1f} s.", highlight=False)
    if report.duplicates_dropped:
        console.print(f"Dropped {report.duplicates_dropped:,} exact duplicate row(s).")
    table = Table()
    table.add_column("table")
    table.add_column("created", justify="right")
    table.add_column("updated", justify="right")
    for name in report.created:
        table.add_row(name, f"{report.created[name]:,}", f"{report.updated.get(name, 0):,}")
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]Note:[/] {w}", highlight=False)
    if report.rejected_rows:
        console.print(f"[yellow]Rejected {report.rejected_rows:,} row(s); reasons are in {report.reject_file}[/]",
                      highlight=False)


customers_app = typer.Typer(help="Look up customers.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


@app.command("train")
def train(
    family: Annotated[str, typer.Argument(help="segments, churn, clv, recommend, text or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
) -> None:
    """Train models on the store and write versioned scores for every customer."""
    from aicrm.scoring.service import FAMILIES, train_all

    families = FAMILIES if family == "all" else (family,)
    if family != "all" and family not in FAMILIES:
        err_console.print(f"[red]Unknown model family '{family}'.[/] Use one of: {', '.join(FAMILIES)}, all.")
        raise typer.Exit(2)
    _run_jobs(train_all, families, as_json)


@app.command("score")
def score(
    family: Annotated[str, typer.Argument(help="segments, churn, clv, recommend, text or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
) -> None:
    """Re-score every customer with the newest saved models (each run is a new score version)."""
    from aicrm.scoring.service import FAMILIES, score_all

    families = FAMILIES if family == "all" else (family,)
    _run_jobs(score_all, families, as_json)


def _run_jobs(job, families, as_json: bool) -> None:
    try:
        engine = ready_engine()
        with progress_bar() as bar:
            results = job(engine=engine, progress=_RichProgress(bar), families=families)
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(results, default=str))
        return
    table = Table(title="Models")
    for col in ("model", "version", "customers scored", "seconds"):
        table.add_column(col)
    for r in results:
        table.add_row(r["model"], str(r["version"]), f"{r.get('scored', 0):,}", f"{r['seconds']:.1f}")
    console.print(table)


@customers_app.command("show")
def customers_show(
    customer: Annotated[str, typer.Argument(help="The customer's id in aicrm, or its external id.")],
    source: Annotated[str | None, typer.Option(help="Source system of an external id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
) -> None:
    """Print a customer's profile with segment, churn risk and its reasons, lifetime value and recommendations."""
    from aicrm.core.db import session_scope
    from aicrm.customers.service import find_id_or_raise, get_detail_or_raise

    try:
        engine = ready_engine()
        with session_scope(engine) as s:
            cid = find_id_or_raise(session=s, key=customer, source=source)
            detail = get_detail_or_raise(session=s, customer_id=cid)
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(detail.model_dump_json())
        return
    _print_customer(detail)


def _print_customer(d) -> None:
    p = d.profile
    console.print(f"[bold]{p.name or '(no name)'}[/]  #{p.id}  {p.source}:{p.external_id}", highlight=False)
    facts = [("e-mail", p.email), ("phone", p.phone), ("country", p.country), ("city", p.city),
             ("signed up", p.signup_date), ("segment", p.segment)]
    for k, v in facts:
        if v:
            console.print(f"  {k:<10} {v}", highlight=False)
    st = d.stats
    console.print(f"  orders     {st.orders} (spend {st.spend:,.2f}; last {st.last_order_at or '-'})", highlight=False)
    if d.clv:
        console.print(f"  12-month value {d.clv.value or 0:,.2f}   P(alive) {d.clv.p_alive if d.clv.p_alive is not None else '-'}",
                      highlight=False)
    if d.churn:
        console.print(f"  churn risk {d.churn.probability:.0%} ({d.churn.band})", highlight=False)
        for r in d.churn.reasons:
            console.print(f"    - {r.text}", highlight=False)
    recs = getattr(d, "recommendations", None) or []
    if recs:
        console.print("  recommended:")
        for r in recs[:10]:
            console.print(f"    {r.rank}. {r.product_name or r.product_id}  [dim]{r.reason or ''}[/]", highlight=False)


@app.command("demo")
def demo(
    customers: Annotated[int, typer.Option(min=50, help="How many customers to simulate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same shop.")] = 42,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load the demo store and stop (no training, no server).")] = False,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Simulate a believable shop, load it into the store, train every model and serve the dashboard."""
    from aicrm.demo.service import load_demo

    engine = ready_engine()
    try:
        with progress_bar() as bar:
            info = load_demo(engine=engine, customers=customers, seed=seed, progress=_RichProgress(bar))
    except AicrmError as exc:
        fail(exc)
    console.print(f"Demo store loaded: {customers:,} customers (seed {seed}) in {info['total_s']:.1f} s.")
    stats(as_json=False)
    if no_serve:
        return
    from aicrm.demo.service import ensure_demo_users
    from aicrm.scoring.service import train_all

    with progress_bar() as bar:
        train_all(engine=engine, progress=_RichProgress(bar))
    users = ensure_demo_users(engine=engine)
    console.print("\n[bold]Sign in with[/] (demo accounts, local mode only):")
    for email, password, role in users:
        console.print(f"  {role:<8} {email}  password: {password}", highlight=False)
    from aicrm.web.cli import serve as serve_command

    serve_command(host=host, port=port)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
