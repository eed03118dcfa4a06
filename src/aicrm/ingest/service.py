"""Import files into the store: read, map, validate, clean, de-duplicate and upsert in one transaction."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Table, func, select

from aicrm.core.errors import ImportRejected
from aicrm.core.models import (
    Campaign, Conversation, Customer, Feedback, Interaction, Message, Order, OrderLine, Product, Ticket,
)
from aicrm.ingest.bulk import bulk_insert, bulk_update, fetch_frame
from aicrm.ingest.mapping import FIELDS, KINDS, REQUIRED, Mapping, check_fields
from aicrm.ingest.readers import read_table
from aicrm.ingest.validation import Problems, parse_column

Progress = Callable[[str, int, int], None]
MAX_LISTED = 20


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do)."""

    file: str
    kind: str
    source: str
    rows_read: int = 0
    duplicates_dropped: int = 0
    rejected_rows: int = 0
    reject_file: str | None = None
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- parsing


def _rename(raw: pd.DataFrame, mapping: Mapping, kind: str, origin: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Canonical field columns (strings) and, for messages, the source column behind each field."""
    fields = FIELDS[kind]
    missing_src = [c for c in mapping.columns if c not in raw.columns]
    if missing_src:
        raise ImportRejected(
            f"{origin}: line 1: the mapping names column(s) {missing_src} that the file does not have",
            hint=f"The file's columns are: {', '.join(raw.columns)}. Fix the `columns:` section of the mapping.",
        )
    src_of: dict[str, str] = {}
    out = pd.DataFrame(index=raw.index)
    for src, fld in mapping.columns.items():
        out[fld] = raw[src]
        src_of[fld] = src
    for col in raw.columns:
        if col in fields and col not in out.columns and col not in mapping.columns:
            out[col] = raw[col]
            src_of[col] = col
    for fld, value in mapping.defaults.items():
        if fld not in out.columns:
            out[fld] = str(value)
            src_of[fld] = fld
        else:
            out[fld] = out[fld].mask(out[fld] == "", str(value))
    if kind == "orders" and mapping.order_id_from_line and "order_id" not in out.columns:
        out["order_id"] = ""
        src_of["order_id"] = "(line number)"
    missing = [f for f in REQUIRED[kind] if f not in out.columns]
    if missing:
        raise ImportRejected(
            f"{origin}: line 1: missing required column(s) for {kind}: {', '.join(missing)}",
            hint=f"The file's columns are: {', '.join(raw.columns)}. Rename them in the file or map them with "
                 f"`--mapping` (see examples/mappings/).",
        )
    return out, src_of


def _attributes(raw: pd.DataFrame, mapping: Mapping, used: set[str]) -> pd.Series | None:
    cols = [c for c in raw.columns if c not in used] if mapping.attributes == "*" else list(mapping.attributes)
    cols = [c for c in cols if c in raw.columns]
    if not cols:
        return None
    sub = raw[cols]
    return pd.Series([{k: v for k, v in zip(cols, row) if v != ""} or None for row in sub.itertuples(index=False)],
                     index=raw.index, dtype=object)


def _parse(fields: pd.DataFrame, src_of: dict[str, str], lines: pd.Series, kind: str, mapping: Mapping,
           problems: Problems) -> pd.DataFrame:
    types = {**FIELDS[kind], **mapping.types}
    out = pd.DataFrame(index=fields.index)
    for fld in fields.columns:
        limit = None
        if fld in ("amount", "unit_price"):
            limit = mapping.max_abs_amount
        elif fld == "quantity":
            limit = mapping.max_abs_quantity
        elif fld == "rating":
            limit = 100
        out[fld] = parse_column(fields[fld], types[fld], column=src_of[fld], lines=lines, problems=problems,
                                date_format=mapping.date_formats.get(fld), max_abs=limit, field_name=fld)
    for req in REQUIRED[kind]:
        if req == "order_id" and mapping.order_id_from_line:
            continue
        blank = fields[req] == ""
        problems.add(blank, lines, src_of[req], fields[req], f"required value is missing ({req})")
    return out


def _reject_message(origin: str, bad: pd.DataFrame, rows: int) -> ImportRejected:
    details = [f"{origin}:{int(r.line)}: column '{r.column}': {r.reason} (value '{r.value}')"
               for r in bad.head(MAX_LISTED).itertuples()]
    return ImportRejected(
        f"{origin}: {rows} row(s) have problems ({len(bad)} in all); the file was refused and the store is unchanged",
        details=details,
        hint="Fix these rows, or run again with --skip-invalid to import the good rows and write the rejected ones "
             "to a reject file.",
    )


def _write_rejects(path: Path, raw: pd.DataFrame, lines: pd.Series, bad: pd.DataFrame, reject_dir: Path | None) -> Path:
    reasons = bad.assign(msg=bad["column"] + ": " + bad["reason"]).groupby("line")["msg"].agg("; ".join)
    keep = lines.isin(reasons.index)
    out = raw[keep].copy()
    out.insert(0, "_line", lines[keep].to_numpy())
    out.insert(1, "_reasons", lines[keep].map(reasons).to_numpy())
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".txt", ".jsonl", ".parquet"):
        name = name.removesuffix(suffix)
    if reject_dir is None:
        # Beside the input file when that folder is writable (shared data folders often are not).
        reject_dir = path.parent if os.access(path.parent, os.W_OK) else Path.cwd()
    target = reject_dir / f"{name}.rejects.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(target, index=False)
    return target


# ---------------------------------------------------------------- store writes


def _canon(series: pd.Series, kind: str) -> pd.Series:
    """Values in one comparable form, whatever the driver returned (text dates on SQLite, objects on PostgreSQL)."""
    if kind == "datetime":
        return pd.to_datetime(series, errors="coerce", format="mixed").dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
    if kind == "date":
        return pd.to_datetime(series, errors="coerce", format="mixed").dt.strftime("%Y-%m-%d").fillna("")
    if kind == "number":
        # + 0.0 folds -0.0 into 0.0, which would otherwise compare as a change.
        return (pd.to_numeric(series, errors="coerce").round(6).astype("float64") + 0.0).fillna(np.inf).astype(str)
    if kind == "json":
        return series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                          else json.dumps(json.loads(v) if isinstance(v, str) else v, sort_keys=True, default=str))
    if kind == "bool":
        return series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(bool(v)))
    return series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))


def _col_kind(table: Table, name: str) -> str:
    from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer

    t = table.c[name].type
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, JSON):
        return "json"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, (Float, Integer)):
        return "number"
    return "str"


def _upsert(conn: Connection, table: Table, df: pd.DataFrame, *, keys: list[str], where: dict | None = None,
            coalesce: bool = True, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Insert new rows and update changed ones, matching on ``keys``; returns (created, updated)."""
    if df.empty:
        return 0, 0
    cols = [c for c in df.columns if c not in keys and c not in (where or {})]
    sel = ", ".join(f'"{c}"' for c in ["id", *keys, *cols])
    sql = f'SELECT {sel} FROM "{table.name}"'
    params: list = []
    if where:
        sql += " WHERE " + " AND ".join(f'"{k}" = ?' for k in where)
        params = list(where.values())
    existing = fetch_frame(conn, sql, params)
    for k in keys:
        existing[k] = _canon(existing[k], _col_kind(table, k)) if len(existing) else existing[k]
    probe = df.copy()
    for k in keys:
        probe[k] = _canon(probe[k], _col_kind(table, k))
    merged = probe.reset_index(drop=True).merge(existing, on=keys, how="left", suffixes=("", "__old"))
    is_new = merged["id"].isna().to_numpy()
    new_rows = df.reset_index(drop=True)[is_new]
    for k, v in (where or {}).items():
        new_rows = new_rows.assign(**{k: v})
    created = bulk_insert(conn, table, new_rows, progress=progress)
    old = merged[~is_new]
    updated = 0
    if len(old) and cols:
        upd = pd.DataFrame({"id": old["id"].astype("int64").to_numpy()})
        changed = np.zeros(len(old), dtype=bool)
        for c in cols:
            kind = _col_kind(table, c)
            new_v = old[c]
            old_v = old[f"{c}__old"]
            if coalesce:
                new_v = new_v.where(new_v.notna(), old_v)
            changed |= (_canon(new_v, kind).to_numpy() != _canon(old_v, kind).to_numpy())
            upd[c] = new_v.to_numpy()
        upd = upd[changed]
        if len(upd):
            if "updated_at" in table.c:
                upd["updated_at"] = pd.Timestamp.now(tz="UTC").tz_localize(None)
            for c in upd.columns:
                if c != "id" and _col_kind(table, c) in ("datetime", "date"):
                    upd[c] = pd.to_datetime(upd[c], format="mixed")
            updated = bulk_update(conn, table, upd)
        if progress:
            progress(len(old))
    return created, updated


def _id_map(conn: Connection, table: Table, source: str) -> pd.Series:
    ids = fetch_frame(conn, f'SELECT external_id, id FROM "{table.name}" WHERE source = ?', [source])
    return pd.Series(ids["id"].to_numpy(), index=ids["external_id"].to_numpy()) if len(ids) else pd.Series(dtype="int64")


def _first(group: pd.core.groupby.DataFrameGroupBy, cols: list[str]) -> pd.DataFrame:
    return group[cols].first() if cols else pd.DataFrame(index=group.size().index)


def _stable_id(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    """An external id made from the row's content, so re-importing the same row finds it again."""
    cells = df[cols].astype(object)
    text = cells.where(cells.notna(), "").astype(str).agg("\x1f".join, axis=1)
    return text.map(lambda s: hashlib.sha1(s.encode("utf-8")).hexdigest()[:24])


def _ensure_customers(conn: Connection, source: str, frame: pd.DataFrame, report: ImportReport,
                      tick: Callable[[int], None] | None = None) -> pd.Series:
    """Upsert customers from ``frame`` (external_id + any profile columns); returns external_id -> id."""
    table = Customer.__table__
    frame = frame.drop_duplicates("external_id")
    c, u = _upsert(conn, table, frame, keys=["external_id"], where={"source": source}, progress=tick)
    report.created["customers"] = report.created.get("customers", 0) + c
    report.updated["customers"] = report.updated.get("customers", 0) + u
    return _id_map(conn, table, source)


def _customer_profile(df: pd.DataFrame, attrs: pd.Series | None) -> pd.DataFrame:
    prof = pd.DataFrame({"external_id": df["customer_id"]})
    if "name" in df:
        prof["name"] = df["name"]
    elif "first_name" in df or "last_name" in df:
        first = df.get("first_name", pd.Series("", index=df.index)).fillna("")
        last = df.get("last_name", pd.Series("", index=df.index)).fillna("")
        prof["name"] = (first + " " + last).str.strip().replace("", None)
    for c in ("email", "phone", "country", "city", "gender", "birth_date", "signup_date"):
        if c in df:
            prof[c] = df[c]
    if attrs is not None:
        prof["attributes"] = attrs
    return prof


def _write_customers(conn, df, attrs, source, report, tick):
    _ensure_customers(conn, source, _customer_profile(df, attrs), report, tick)


def _write_products(conn, df, attrs, source, report, tick):
    prod = pd.DataFrame({"external_id": df["product_id"]})
    for c in ("name", "description", "category", "unit_price", "available"):
        if c in df:
            prod[c] = df[c]
    if "available" in prod:
        prod["available"] = prod["available"].where(prod["available"].notna(), True)
    if attrs is not None:
        prod["attributes"] = attrs
    prod = prod.drop_duplicates("external_id", keep="last")
    c, u = _upsert(conn, Product.__table__, prod, keys=["external_id"], where={"source": source}, progress=tick)
    report.created["products"], report.updated["products"] = c, u


def _write_orders(conn, df, attrs, source, report, tick, mapping: Mapping):
    df = df.copy()
    if mapping.order_id_from_line:
        df["order_id"] = df["_line"].astype(str)
    if "amount" not in df and "quantity" in df and "unit_price" in df:
        df["amount"] = df["quantity"] * df["unit_price"]
    elif "amount" in df and "quantity" in df and "unit_price" in df:
        df["amount"] = df["amount"].fillna(df["quantity"] * df["unit_price"])
    if "quantity" not in df:
        df["quantity"] = 1.0
    df["quantity"] = df["quantity"].fillna(1.0)
    if "unit_price" not in df and "amount" in df:
        df["unit_price"] = df["amount"] / df["quantity"].replace(0, np.nan)

    cust_map = pd.Series(dtype="int64")
    if "customer_id" in df:
        known = df[df["customer_id"].notna()]
        prof = _customer_profile(known.rename(columns={"customer_name": "name"}), None)
        keep = [c for c in prof.columns if c == "external_id" or prof[c].notna().any()]
        prof = prof[keep].groupby("external_id", sort=False).first().reset_index()
        cust_map = _ensure_customers(conn, source, prof, report, tick)

    prod_map = pd.Series(dtype="int64")
    if "product_id" in df:
        known = df[df["product_id"].notna()]
        prod = pd.DataFrame({"external_id": known["product_id"]})
        for src, dst in (("product_name", "name"), ("category", "category"), ("unit_price", "unit_price")):
            if src in known:
                prod[dst] = known[src]
        if "unit_price" in prod:
            prod["unit_price"] = prod["unit_price"].where(prod["unit_price"] > 0)
        prod = prod.groupby("external_id", sort=False).first().reset_index()
        c, u = _upsert(conn, Product.__table__, prod, keys=["external_id"], where={"source": source}, progress=tick)
        report.created["products"], report.updated["products"] = c, u
        prod_map = _id_map(conn, Product.__table__, source)

    g = df.groupby("order_id", sort=False)
    orders = pd.DataFrame({"ordered_at": g["ordered_at"].min()})
    orders["total_amount"] = g["amount"].sum(min_count=1) if "amount" in df else None
    extra = [c for c in ("channel", "currency", "shipped_at", "delivered_at", "promised_at", "status") if c in df]
    orders = orders.join(_first(g, extra + (["customer_id"] if "customer_id" in df else [])))
    orders.index.name = "external_id"
    orders = orders.reset_index()
    if "customer_id" in orders:
        orders["customer_id"] = orders["customer_id"].map(cust_map).astype("Int64")
        orders["customer_id"] = orders["customer_id"].astype(object).where(orders["customer_id"].notna(), None)
    status = orders["status"] if "status" in orders else pd.Series(None, index=orders.index, dtype=object)
    status = status.fillna("completed")
    if mapping.cancelled_when is not None:
        rule = mapping.cancelled_when
        src_col = "external_id" if rule.field == "order_id" else rule.field
        status = status.mask(orders[src_col].astype(str).str.startswith(rule.prefix), "cancelled")
    orders["status"] = status
    c, u = _upsert(conn, Order.__table__, orders, keys=["external_id"], where={"source": source}, progress=tick)
    report.created["orders"], report.updated["orders"] = c, u
    order_map = _id_map(conn, Order.__table__, source)

    lines = pd.DataFrame({
        "order_id": df["order_id"].map(order_map).astype("int64").to_numpy(),
        "line_no": (df.groupby("order_id", sort=False).cumcount() + 1).to_numpy(),
        "quantity": df["quantity"].to_numpy(),
    })
    lines["product_id"] = (df["product_id"].map(prod_map).astype("Int64").astype(object).to_numpy()
                           if "product_id" in df else None)
    lines["unit_price"] = df["unit_price"].to_numpy() if "unit_price" in df else None
    lines["amount"] = df["amount"].to_numpy() if "amount" in df else None
    lines["product_id"] = lines["product_id"].where(pd.notna(lines["product_id"]), None)
    c, u = _upsert(conn, OrderLine.__table__, lines, keys=["order_id", "line_no"], progress=tick)
    report.created["order_lines"], report.updated["order_lines"] = c, u


def _refs(conn, df, source, report, tick) -> pd.DataFrame:
    """Resolve customer, order and product references; unknown customers are created, unknown orders reported."""
    out = pd.DataFrame(index=df.index)
    if "customer_id" in df:
        ids = df["customer_id"].dropna().unique()
        cust_map = _ensure_customers(conn, source, pd.DataFrame({"external_id": ids}), report, tick) if len(ids) else pd.Series(dtype="int64")
        out["customer_id"] = df["customer_id"].map(cust_map)
    for ref, table in (("order_id", Order.__table__), ("product_id", Product.__table__)):
        if ref in df:
            m = _id_map(conn, table, source)
            resolved = df[ref].map(m)
            unknown = df[ref].notna() & resolved.isna()
            if unknown.any():
                report.warnings.append(
                    f"{int(unknown.sum())} row(s) name a {ref.split('_')[0]} the store does not know "
                    f"(e.g. '{df.loc[unknown, ref].iloc[0]}'); the reference was left empty")
            out[ref] = resolved
    for c in out.columns:
        out[c] = out[c].astype("Int64").astype(object).where(out[c].notna(), None)
    return out


def _write_events(conn, df, attrs, source, report, tick, kind: str):
    table = {"feedback": Feedback.__table__, "interactions": Interaction.__table__, "tickets": Ticket.__table__}[kind]
    id_field = {"feedback": "feedback_id", "interactions": "interaction_id", "tickets": "ticket_id"}[kind]
    rows = _refs(conn, df, source, report, tick)
    for c in df.columns:
        if c not in (id_field, "customer_id", "order_id", "product_id") and c in table.c:
            rows[c] = df[c]
    if id_field in df and df[id_field].notna().all():
        rows["external_id"] = df[id_field]
    else:
        content = [c for c in df.columns if c != "_line"]
        generated = _stable_id(df, content)
        rows["external_id"] = df[id_field].fillna(generated) if id_field in df else generated
    if attrs is not None and "attributes" in table.c:
        rows["attributes"] = attrs
    if kind == "tickets":
        rows["status"] = rows["status"].fillna("open") if "status" in rows else "open"
        rows["priority"] = rows["priority"].fillna("normal") if "priority" in rows else "normal"
    rows = rows.drop_duplicates("external_id", keep="last")
    c, u = _upsert(conn, table, rows, keys=["external_id"], where={"source": source}, progress=tick)
    report.created[kind], report.updated[kind] = c, u


# ---------------------------------------------------------------- entry points


def import_file(
    *,
    engine: Engine,
    kind: str,
    path: Path | str,
    mapping: Mapping | None = None,
    source: str | None = None,
    skip_invalid: bool = False,
    dry_run: bool = False,
    reject_dir: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file of ``kind``; refuses the whole file on any bad row unless ``skip_invalid``."""
    started = time.perf_counter()
    path = Path(path)
    origin = str(path)
    if kind not in KINDS:
        raise ImportRejected(f"unknown kind '{kind}'", hint=f"Use one of: {', '.join(KINDS)}.")
    mapping = mapping or Mapping()
    if mapping.kind and mapping.kind != kind:
        raise ImportRejected(f"the mapping is for {mapping.kind}, not {kind}",
                             hint=f"Run `aicrm import {mapping.kind} ...` or use a mapping made for {kind}.")
    check_fields(mapping, kind, origin="mapping")
    source = source or mapping.source or "default"
    report = ImportReport(file=origin, kind=kind, source=source, dry_run=dry_run)
    say = progress or (lambda stage, done, total: None)

    say("reading", 0, 1)
    raw, lines = read_table(path, fmt=mapping.format, delimiter=mapping.delimiter, encoding=mapping.encoding,
                            header=mapping.header, names=mapping.names)
    report.rows_read = len(raw)
    say("reading", 1, 1)
    if mapping.drop_duplicates:
        dup = raw.duplicated(keep="first")
        report.duplicates_dropped = int(dup.sum())
        if report.duplicates_dropped:
            raw, lines = raw[~dup], lines[~dup]
    fields, src_of = _rename(raw, mapping, kind, origin)
    problems = Problems()
    say("validating", 0, len(fields))
    df = _parse(fields, src_of, lines, kind, mapping, problems)
    say("validating", len(fields), len(fields))
    bad = problems.frame()
    if len(bad):
        bad_rows = bad["line"].nunique()
        if not skip_invalid:
            raise _reject_message(origin, bad, bad_rows)
        report.rejected_rows = int(bad_rows)
        if not dry_run:
            report.reject_file = str(_write_rejects(path, raw, lines, bad, reject_dir))
        keep = ~lines.isin(bad["line"].unique())
        raw, lines, df = raw[keep], lines[keep], df[keep]
        if df.empty:
            raise ImportRejected(f"{origin}: every row was rejected; nothing to import",
                                 hint=f"See the reasons in {report.reject_file or 'the messages above'}.")
    df["_line"] = lines
    attrs = _attributes(raw, mapping, set(mapping.columns) | set(src_of.values()))

    total = len(df) * (3 if kind == "orders" else 1)
    done = [0]

    def tick(n: int) -> None:
        done[0] = min(total, done[0] + n)
        say("writing", done[0], total)

    say("writing", 0, total)
    try:
        with engine.begin() as conn:
            if kind == "customers":
                _write_customers(conn, df, attrs, source, report, tick)
            elif kind == "products":
                _write_products(conn, df, attrs, source, report, tick)
            elif kind == "orders":
                _write_orders(conn, df, attrs, source, report, tick, mapping)
            else:
                _write_events(conn, df, attrs, source, report, tick, kind)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    say("writing", total, total)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


COUNTED = {
    "customers": Customer, "orders": Order, "order_lines": OrderLine, "products": Product, "feedback": Feedback,
    "interactions": Interaction, "tickets": Ticket, "conversations": Conversation, "messages": Message,
    "campaigns": Campaign,
}


def store_counts(*, engine: Engine) -> dict[str, int]:
    """Row counts of the main tables."""
    with engine.connect() as conn:
        return {name: int(conn.execute(select(func.count()).select_from(model)).scalar_one())
                for name, model in COUNTED.items()}
