"""Readers that turn CSV (any delimiter, optionally gzip), Parquet and JSON Lines files into string tables."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from aicrm.core.errors import ImportRejected

FORMATS = ("csv", "parquet", "jsonl", "whitespace")
MAX_FIELD_CHARS = 100_000


def detect_format(path: Path) -> str:
    """The file's format, from its name (``.csv``, ``.tsv``, ``.txt``, ``.parquet``, ``.jsonl``/``.ndjson``, ``.gz``)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq"):
        return "parquet"
    if last in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "csv"


def _open_bytes(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError) as exc:
        raise ImportRejected(f"{path}: cannot read the file ({exc})",
                             hint="Check that the file is complete and, if gzip-compressed, not truncated.") from exc


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportRejected(
            f"{path}: line {line}: the file is not valid {encoding} (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            hint="Save the file as UTF-8, or give its encoding with `encoding:` in the mapping file "
                 "(e.g. `encoding: latin-1` or `cp1252`).",
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_table(
    path: Path,
    *,
    fmt: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    header: bool = True,
    names: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """All cells as trimmed strings ('' for blank) plus each row's line number in the file (header = line 1)."""
    path = Path(path)
    if not path.exists():
        raise ImportRejected(f"{path}: no such file", hint="Check the path; relative paths start from the current folder.")
    if path.stat().st_size == 0:
        raise ImportRejected(f"{path}: the file is empty", hint="Export the data again; the file has no header and no rows.")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ImportRejected(f"{path}: unknown format '{fmt}'", hint=f"Use one of: {', '.join(FORMATS)}.")
    if fmt == "parquet":
        df = _read_parquet(path)
        first_line = 1  # Parquet has no header line; rows are numbered from 1
    elif fmt == "jsonl":
        df = _read_jsonl(path, encoding)
        first_line = 1
    else:
        text = _decode(path, _open_bytes(path), encoding)
        if not text.strip():
            raise ImportRejected(f"{path}: the file is empty", hint="Export the data again.")
        if fmt == "whitespace":
            sep, engine = r"\s+", "c"
        else:
            sep, engine = delimiter or _sniff_delimiter(text[:65536]), "c"
        try:
            df = pd.read_csv(
                io.StringIO(text), sep=sep, engine=engine, dtype=str, keep_default_na=False, na_filter=False,
                header=0 if header else None, names=names, skipinitialspace=True,
                skip_blank_lines=True,
            )
        except pd.errors.ParserError as exc:
            raise ImportRejected(f"{path}: cannot parse as delimited text: {exc}",
                                 hint="Check the delimiter (set `delimiter:` in the mapping) and the quoting.") from exc
        first_line = 2 if header else 1
        if df.empty:
            raise ImportRejected(f"{path}: the file has a header but no data rows",
                                 hint="Export the data again, with its rows.")
    df.columns = [str(c).strip() for c in df.columns]
    dup = [c for c in set(df.columns) if list(df.columns).count(c) > 1]
    if dup:
        raise ImportRejected(f"{path}: line 1: duplicate column name(s) {sorted(dup)}", hint="Rename the columns so each is unique.")
    for col in df.columns:
        df[col] = df[col].astype(str).str.strip()
    lines = pd.Series(range(first_line, first_line + len(df)), index=df.index, name="_line")
    return df, lines


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ImportRejected(f"{path}: not a readable Parquet file ({exc})", hint="Write the file again with a Parquet writer.") from exc
    df = table.to_pandas()
    return _stringify(df)


def _read_jsonl(path: Path, encoding: str) -> pd.DataFrame:
    import json

    text = _decode(path, _open_bytes(path), encoding)
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportRejected(f"{path}: line {n}: not valid JSON ({exc.msg} at column {exc.colno})",
                                 hint="Each line of a JSON Lines file must be one JSON object.") from exc
        if not isinstance(obj, dict):
            raise ImportRejected(f"{path}: line {n}: expected a JSON object, found {type(obj).__name__}",
                                 hint="Each line of a JSON Lines file must be one JSON object.")
        records.append(obj)
    if not records:
        raise ImportRejected(f"{path}: the file has no records", hint="Export the data again.")
    return _stringify(pd.DataFrame.from_records(records))


def _stringify(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_object_dtype(s.dtype):
            out[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
        else:
            out[col] = s.astype("string").fillna("").astype(str)
    return out
