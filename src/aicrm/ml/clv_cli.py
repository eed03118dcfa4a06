"""``aicrm clv``: evaluate BG/NBD-family purchase models (and Gamma-Gamma spend) on a transaction file."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer

from aicrm.core.errors import AicrmError, ImportRejected, ValidationFailed

app = typer.Typer(no_args_is_help=True)

_WHITESPACE = {"whitespace", "ws", "space", "spaces", r"\s+", " "}
_NAMED_SEPS = {"tab": "\t", r"\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


@app.callback()
def _callback() -> None:
    """Customer lifetime value: BG/NBD, Pareto/NBD, MBG/NBD and Gamma-Gamma."""


# --------------------------------------------------------------------------------------------------
# Reading a transaction file (CSV or whitespace-separated like CDNOW), with errors naming line and column
# --------------------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    if not path.exists():
        raise ImportRejected(f"{path}: no such file", hint="Check the path; relative paths start from the current folder.")
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ImportRejected(f"{path}: cannot decompress the gzip file ({exc})",
                                 hint="Check that the file is complete.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")  # common for spreadsheet exports; ids and dates are ASCII anyway
        except UnicodeDecodeError:
            raise ImportRejected(f"{path}: line {line}: the file is not valid UTF-8",
                                 hint="Save the file as UTF-8.") from exc
    text = text[1:] if text.startswith("\ufeff") else text
    if not text.strip():
        raise ImportRejected(f"{path}: the file is empty", hint="Export the data again, with its rows.")
    return text


def _resolve_sep(sep: str | None, text: str) -> str | None:
    """The delimiter, or None for runs of whitespace (CDNOW's format)."""
    if sep is not None:
        low = sep.lower()
        if low in _WHITESPACE:
            return None
        return _NAMED_SEPS.get(low, sep)
    lines = [ln for ln in text[:65536].splitlines()[:50] if ln.strip()]
    for cand in (",", "\t", ";", "|"):
        counts = {ln.count(cand) for ln in lines[:-1] or lines}
        if len(counts) == 1 and counts.pop() > 0:
            return cand
    if lines and any(c in lines[0] for c in ",\t;|"):
        try:
            return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",\t;|").delimiter
        except csv.Error:
            pass
    return None


def _split_line(line: str, sep: str | None) -> list[str]:
    if sep is None:
        return line.split()
    return [f.strip().strip('"') for f in next(csv.reader([line], delimiter=sep))]


def _looks_like_date(value: str, date_format: str | None) -> bool:
    value = value.strip().strip('"')
    if not value:
        return False
    try:
        if date_format:
            pd.to_datetime(value, format=date_format)
        elif re.fullmatch(r"\d{8}", value):
            pd.to_datetime(value, format="%Y%m%d")
        else:
            pd.to_datetime(value, format="ISO8601")
        return True
    except (ValueError, TypeError):
        return False


def read_transactions(
    path: Path,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    date_format: str | None = None,
    sep: str | None = None,
    header: bool | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """The file's customer, date (and amount) columns, typed; refuses bad values naming file, line and column."""
    path = Path(path)
    text = _read_text(path)
    delim = _resolve_sep(sep, text)
    lines = text.splitlines()
    first_idx = next(i for i, ln in enumerate(lines) if ln.strip())
    first = _split_line(lines[first_idx], delim)
    if header is None:
        # A header is recognised by its date field not being a date (or by holding the named column).
        if columns:
            pos = columns.index(date_col) if date_col in columns else None
            header = pos is not None and pos < len(first) and not _looks_like_date(first[pos], date_format)
        elif date_col in first:
            header = True
        elif date_col.isdigit() and 1 <= int(date_col) <= len(first):
            header = not _looks_like_date(first[int(date_col) - 1], date_format)
        else:
            raise ImportRejected(
                f"{path}: line {first_idx + 1}: no column named '{date_col}' (the line holds: {', '.join(first[:12])})",
                hint="Name the columns of a headerless file with --columns a,b,c, or refer to them by position "
                     "(--date-col 2) with --no-header.")
    try:
        df = pd.read_csv(io.StringIO(text), sep=r"\s+" if delim is None else delim, header=None, dtype=str,
                         keep_default_na=False, skip_blank_lines=False, engine="c", quotechar='"')
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise ImportRejected(f"{path}: line {m.group(2)}: expected {m.group(1)} fields, found {m.group(3)}",
                                 hint="Check the separator (--sep) and the quoting of that line.") from exc
        raise ImportRejected(f"{path}: cannot parse the file ({exc})", hint="Check the separator (--sep).") from exc
    line_no = np.arange(1, len(df) + 1)
    if header:
        names = [str(v).strip() for v in df.iloc[first_idx]]
        df, line_no = df.iloc[first_idx + 1:], line_no[first_idx + 1:]
        if columns:
            names = list(columns)
    else:
        names = list(columns) if columns else [str(i + 1) for i in range(df.shape[1])]
    if len(names) != df.shape[1]:
        raise ImportRejected(f"{path}: --columns names {len(names)} column(s) but line {line_no[0] if len(line_no) else 1} "
                             f"has {df.shape[1]}", hint="Give one name per field, separated by commas.")
    df.columns = names
    keep = (df.astype(str).apply(lambda c: c.str.strip()) != "").any(axis=1).to_numpy()
    df, line_no = df[keep], line_no[keep]
    if df.empty:
        raise ImportRejected(f"{path}: the file has no data rows", hint="Export the data again, with its rows.")
    wanted = {"--customer-col": customer_col, "--date-col": date_col}
    if amount_col:
        wanted["--amount-col"] = amount_col
    for option, name in wanted.items():
        if name not in df.columns:
            raise ImportRejected(f"{path}: {option} '{name}' is not a column (columns: {', '.join(map(str, df.columns))})",
                                 hint="Use a name from the header, --columns to name a headerless file's fields, "
                                      "or a 1-based position with --no-header.")

    def refuse(mask: np.ndarray, column: str, what: str, hint: str) -> None:
        bad = np.flatnonzero(mask)
        details = [f"line {line_no[i]}, column '{column}': {df[column].iloc[i]!r}" for i in bad[:20]]
        raise ImportRejected(f"{path}: line {line_no[bad[0]]}, column '{column}': {what} "
                             f"({len(bad)} row(s))", hint=hint, details=details)

    cust = df[customer_col].astype(str).str.strip()
    if (cust == "").any():
        refuse((cust == "").to_numpy(), customer_col, "empty customer id", "Every row needs a customer id.")
    raw_dates = df[date_col].astype(str).str.strip().str.strip('"')
    if date_format:
        dates = pd.to_datetime(raw_dates, format=date_format, errors="coerce")
    elif raw_dates.str.fullmatch(r"\d{8}").all():
        dates = pd.to_datetime(raw_dates, format="%Y%m%d", errors="coerce")
    else:
        dates = pd.to_datetime(raw_dates, format="ISO8601", errors="coerce")
    if dates.isna().any():
        refuse(dates.isna().to_numpy(), date_col, "not a date" + (f" in format {date_format}" if date_format else ""),
               "Give the format with --date-format (e.g. --date-format %d/%m/%Y); the default reads "
               "YYYY-MM-DD[ HH:MM:SS] and YYYYMMDD.")
    out = pd.DataFrame({"customer_id": cust.to_numpy(), "date": dates.to_numpy()})
    if amount_col:
        raw_amounts = df[amount_col].astype(str).str.strip().str.replace(",", "", regex=False) if delim != "," \
            else df[amount_col].astype(str).str.strip()
        amounts = pd.to_numeric(raw_amounts, errors="coerce")
        bad = amounts.isna().to_numpy() | ~np.isfinite(amounts.to_numpy(dtype="float64", na_value=np.nan))
        if bad.any():
            refuse(bad, amount_col, "not a number", "Amounts must be plain numbers such as 12.50.")
        out["amount"] = amounts.to_numpy(dtype="float64")
    out.attrs["line"] = line_no
    return out


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------

def evaluate_file(
    path: Path,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    date_format: str | None,
    sep: str | None,
    header: bool | None,
    columns: list[str] | None,
    calibration_end: str,
    holdout_end: str,
    model: str,
) -> dict:
    """Fit on the calibration period, predict the holdout, and report both as one dict."""
    from aicrm.ml.clv import GammaGammaModel, _as_date, holdout_check, make_clv_model, rfm_summary, select_clv_model

    if model not in ("auto", "bgnbd", "pareto_nbd", "mbgnbd"):
        raise ValidationFailed(f"--model '{model}' is not one of bgnbd, pareto_nbd, mbgnbd, auto",
                               hint="Use --model auto to let the calibration data choose.")
    cal_end = _as_date(calibration_end, "--calibration-end")
    hold_end = _as_date(holdout_end, "--holdout-end")
    tx = read_transactions(path, customer_col=customer_col, date_col=date_col, amount_col=amount_col,
                           date_format=date_format, sep=sep, header=header, columns=columns)
    summary = rfm_summary(tx, customer_col="customer_id", date_col="date",
                          amount_col="amount" if amount_col else None,
                          calibration_end=cal_end, holdout_end=hold_end)
    if summary.empty:
        raise ValidationFailed(f"{path}: no customer made a first purchase on or before {cal_end.date()}",
                               hint=f"The file's dates run from {tx['date'].min().date()} to {tx['date'].max().date()}.")
    selection = None
    if model == "auto":
        selection = select_clv_model(tx, customer_col="customer_id", date_col="date", calibration_end=cal_end,
                                     horizon_days=(hold_end - cal_end).days)
        model = selection.best
    fitted = make_clv_model(model).fit(summary)
    check = holdout_check(fitted, summary)
    report: dict = {
        "file": str(path),
        "transactions": int(len(tx)),
        "customers": int(len(summary)),
        "calibration_end": str(cal_end.date()),
        "holdout_end": str(hold_end.date()),
        "time_unit": "weeks",
        "model": model,
        "params": {k: round(v, 6) for k, v in fitted.params_.items()},
        "log_likelihood": round(fitted.log_likelihood_, 4),
        "converged": fitted.converged_,
        "calibration_repeat": int(summary["frequency"].sum()),
        "holdout": {
            "weeks": round(float(summary["holdout_duration"].iloc[0]), 4),
            "actual_repeat": int(check["actual_repeat"]),
            "predicted_repeat": round(check["predicted_repeat"], 2),
            "error_pct": round(check["error_pct"], 2) if math.isfinite(check["error_pct"]) else None,
            "mae_per_customer": round(check["mae_per_customer"], 4),
        },
        "mean_p_alive": round(float(np.mean(fitted.probability_alive(summary))), 4),
    }
    if selection is not None:
        report["selection"] = {"inner_calibration_end": selection.inner_calibration_end,
                               "criterion": "inner_mae",
                               "scores": {k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in s.items()}
                                          for k, s in selection.scores.items()}}
    if amount_col:
        try:
            gg = GammaGammaModel().fit(summary)
        except ValidationFailed as exc:  # too few repeat buyers: still report the purchase model
            report["spend_params"] = None
            report["spend_note"] = exc.message
            return report
        report["spend_params"] = {k: round(v, 6) for k, v in gg.params_.items()}
        report["spend_customers"] = gg.n_customers_
        report["mean_spend_per_purchase"] = round(gg.population_mean_spend(), 4)
    return report


def _parse_columns(columns: str | None) -> list[str] | None:
    if columns is None:
        return None
    names = [c.strip() for c in columns.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValidationFailed(f"--columns '{columns}' must be distinct, non-empty names separated by commas",
                               hint="For example --columns customer_id,date,cds,amount")
    return names


@app.command("evaluate")
def evaluate(
    file: Annotated[Path, typer.Argument(help="Transactions: CSV (any delimiter, optionally .gz) or "
                                              "whitespace-separated text such as CDNOW_master.txt.")],
    calibration_end: Annotated[str, typer.Option("--calibration-end", help="Last day (inclusive) of the fitting period, YYYY-MM-DD.")],
    holdout_end: Annotated[str, typer.Option("--holdout-end", help="Last day (inclusive) of the holdout period, YYYY-MM-DD.")],
    customer_col: Annotated[str, typer.Option("--customer-col", help="Customer id column (name, or 1-based position without a header).")] = "customer_id",
    date_col: Annotated[str, typer.Option("--date-col", help="Purchase date column.")] = "date",
    amount_col: Annotated[str | None, typer.Option("--amount-col", help="Purchase value column; adds the Gamma-Gamma spend model.")] = None,
    date_format: Annotated[str | None, typer.Option("--date-format", help="strftime format of the dates, e.g. %Y%m%d or %d/%m/%Y.")] = None,
    sep: Annotated[str | None, typer.Option("--sep", help="Field separator: ',', ';', 'tab', '|' or 'whitespace' (default: detected).")] = None,
    header: Annotated[bool | None, typer.Option("--header/--no-header", help="Whether line 1 is a header (default: detected).")] = None,
    columns: Annotated[str | None, typer.Option("--columns", help="Names for the fields, comma-separated, e.g. "
                                                 "customer_id,date,cds,amount (replaces the header if there is one).")] = None,
    model: Annotated[str, typer.Option("--model", help="bgnbd, pareto_nbd, mbgnbd, or auto (chosen on calibration data only).")] = "bgnbd",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fit a purchase model on the calibration period and check its forecast on the holdout period."""
    from aicrm.cli import fail

    try:
        report = evaluate_file(file, customer_col=customer_col, date_col=date_col, amount_col=amount_col,
                               date_format=date_format, sep=sep, header=header, columns=_parse_columns(columns),
                               calibration_end=calibration_end, holdout_end=holdout_end, model=model)
    except AicrmError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(_finite(report)))
        return
    _print_report(report)


def _finite(value):
    """The report with NaN/inf replaced by null, so the output is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _print_report(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{report['model']}[/] on {report['file']}: {report['customers']:,} customers, "
                  f"{report['transactions']:,} transactions; calibration to {report['calibration_end']}, "
                  f"holdout to {report['holdout_end']} ({report['holdout']['weeks']:g} weeks).", highlight=False)
    params = Table(title="Fitted parameters")
    params.add_column("model")
    params.add_column("parameter")
    params.add_column("value", justify="right")
    for k, v in report["params"].items():
        params.add_row(report["model"], k, f"{v:.4f}")
    for k, v in (report.get("spend_params") or {}).items():
        params.add_row("gamma_gamma", k, f"{v:.4f}")
    console.print(params)
    if not report["converged"]:
        console.print("[yellow]Warning:[/] the fit did not converge (a parameter ran to its bound); "
                      "the data may be too few or too regular for this model.", highlight=False)
    hold = report["holdout"]
    check = Table(title="Holdout check (repeat purchases)")
    for col in ("actual", "predicted", "error", "MAE per customer"):
        check.add_column(col, justify="right")
    err = "n/a" if hold["error_pct"] is None else f"{hold['error_pct']:+.1f}%"
    check.add_row(f"{hold['actual_repeat']:,}", f"{hold['predicted_repeat']:,.0f}", err, f"{hold['mae_per_customer']:.3f}")
    console.print(check)
    console.print(f"Log-likelihood {report['log_likelihood']:,.2f}; mean P(alive) at the calibration end "
                  f"{report['mean_p_alive']:.2f}.", highlight=False)
    if "selection" in report:
        sel = Table(title=f"Model choice (inner split at {report['selection']['inner_calibration_end']})")
        for col in ("candidate", "inner MAE", "inner total error"):
            sel.add_column(col, justify="right")
        for name, s in report["selection"]["scores"].items():
            sel.add_row(name + (" *" if name == report["model"] else ""), f"{s['inner_mae']:.4f}",
                        f"{s['inner_error_pct']:+.1f}%")
        console.print(sel)
    if report.get("spend_note"):
        console.print(f"[yellow]No spend model:[/] {report['spend_note']}", highlight=False)
    if "mean_spend_per_purchase" in report:
        console.print(f"Gamma-Gamma on {report['spend_customers']:,} repeat buyers: mean spend per purchase "
                      f"{report['mean_spend_per_purchase']:,.2f}.", highlight=False)
