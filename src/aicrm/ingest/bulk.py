"""Bulk writes below the ORM: executemany on SQLite, COPY on PostgreSQL, inside the caller's transaction."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Boolean, Connection, Date, DateTime, Table

CHUNK = 50_000


def _column_values(table: Table, name: str, s: pd.Series, dialect: str) -> list:
    """Python values for one column, converted to what the driver expects for the column's type."""
    col = table.c[name]
    ctype = col.type
    mask = s.isna().to_numpy()
    if isinstance(ctype, JSON):
        vals = [None if (v is None or (isinstance(v, float) and np.isnan(v))) else json.dumps(v, default=str)
                for v in s.tolist()]
        return vals
    if isinstance(ctype, DateTime):
        ts = pd.to_datetime(s)
        # SQLAlchemy's SQLite DateTime stores this exact text form; PostgreSQL accepts it too.
        txt = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(dtype=object)
        txt[mask] = None
        return txt.tolist()
    if isinstance(ctype, Date):
        ts = pd.to_datetime(s)
        txt = ts.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        txt[mask] = None
        return txt.tolist()
    if isinstance(ctype, Boolean):
        return [None if m else bool(v) for v, m in zip(s.tolist(), mask)]
    arr = s.astype(object).to_numpy(copy=True)
    arr[mask] = None
    out = arr.tolist()
    if out and isinstance(next((v for v in out if v is not None), None), (np.integer, np.floating)):
        out = [v.item() if isinstance(v, (np.integer, np.floating)) else v for v in out]
    return out


def _rows(table: Table, df: pd.DataFrame, dialect: str) -> list[tuple]:
    cols = [_column_values(table, c, df[c], dialect) for c in df.columns]
    return list(zip(*cols))


def _with_defaults(table: Table, df: pd.DataFrame) -> pd.DataFrame:
    """Fill the columns whose defaults SQLAlchemy would have supplied (they live in Python, not in the schema)."""
    extra = {}
    for col in table.columns:
        if col.name in df.columns or col.default is None or col.primary_key:
            continue
        d = col.default
        extra[col.name] = d.arg(None) if d.is_callable else d.arg
    return df.assign(**extra) if extra else df


def bulk_insert(conn: Connection, table: Table, df: pd.DataFrame, *,
                progress: Callable[[int], None] | None = None) -> int:
    """Insert every row of ``df`` (columns named as the table's) and return the count."""
    if df.empty:
        return 0
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    df = _with_defaults(table, df)
    cols = list(df.columns)
    n = 0
    for start in range(0, len(df), CHUNK):
        part = df.iloc[start:start + CHUNK]
        if dialect == "postgresql":
            _copy_in(raw, table, part)
        else:
            placeholders = ", ".join("?" for _ in cols)
            names = ", ".join(f'"{c}"' for c in cols)
            sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({placeholders})'
            cur = raw.cursor()
            cur.executemany(sql, _rows(table, part, dialect))
            cur.close()
        n += len(part)
        if progress:
            progress(len(part))
    return n


def _copy_in(raw, table: Table, df: pd.DataFrame) -> None:
    # object dtype keeps integers with gaps as integers (a float column would write "8745.0").
    out = pd.DataFrame({c: pd.Series(_column_values(table, c, df[c], "postgresql"), dtype=object) for c in df.columns})
    buf = io.StringIO()
    # COPY's CSV format reads an unquoted empty field as NULL; quoted "" stays an empty string.
    out.to_csv(buf, index=False, header=False, na_rep="")
    cols = ", ".join(f'"{c}"' for c in df.columns)
    with raw.cursor() as cur:
        with cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN WITH (FORMAT csv)') as copy:
            copy.write(buf.getvalue())


def bulk_update(conn: Connection, table: Table, df: pd.DataFrame, *, key: str = "id") -> int:
    """Update rows by ``key`` with the other columns of ``df``; returns the count."""
    if df.empty:
        return 0
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    cols = [c for c in df.columns if c != key]
    ph = "%s" if dialect == "postgresql" else "?"
    sets = ", ".join(f'"{c}" = {ph}' for c in cols)
    sql = f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = {ph}'
    rows = _rows(table, df[cols + [key]], dialect)
    cur = raw.cursor()
    cur.executemany(sql, rows)
    cur.close()
    return len(rows)


def fetch_frame(conn: Connection, sql: str, params: Iterable = ()) -> pd.DataFrame:
    """Run a SELECT on the raw driver connection and return a DataFrame (fast path for large reads)."""
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        sql = sql.replace("?", "%s")
    cur = raw.cursor()
    cur.execute(sql, tuple(params))
    names = [d[0] for d in cur.description]
    data = cur.fetchall()
    cur.close()
    return pd.DataFrame.from_records(data, columns=names)
