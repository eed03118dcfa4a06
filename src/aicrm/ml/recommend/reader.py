"""Reading an interactions file (CSV/TSV, optionally gzip) with errors that name the file, line and column."""

from __future__ import annotations

import codecs
import csv
import gzip
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from aicrm.core.errors import ValidationFailed
from aicrm.ml.recommend.data import InteractionData, encode_interactions, item_features_from_rows

# MovieLens u.data, and most headerless rating dumps, are user, item, rating, timestamp.
HEADERLESS_NAMES = ("user", "item", "rating", "timestamp")


def decode_separator(sep: str | None) -> str | None:
    """A separator as typed on a command line: ``'\\t'``, ``tab``, ``;``... (None = detect)."""
    if sep is None or sep == "":
        return None
    named = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    if sep.lower() in named:
        return named[sep.lower()]
    decoded = codecs.decode(sep, "unicode_escape") if "\\" in sep else sep
    if len(decoded) != 1:
        raise ValidationFailed(f"separator {sep!r} is not one character",
                               hint="Use e.g. --sep ',' or --sep '\\t' or --sep tab.")
    return decoded


def _open_text(path: Path):
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") if gz else \
        open(path, encoding="utf-8", errors="replace", newline=""), gz


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_interaction_file(
    path: Path,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = None,
    min_rating: float | None = None,
    time_col: str | None = None,
    sep: str | None = None,
    columns: list[str] | None = None,
    item_text_col: str | None = None,
    item_category_col: str | None = None,
    encoding: str = "utf-8",
) -> InteractionData:
    """Interactions from a delimited file: one row per interaction, each row counts 1.

    A headerless file whose first row is all numbers is read with ``columns`` as its names (default
    user, item, rating, timestamp - the MovieLens ``u.data`` layout). Rows with a blank user (anonymous
    buyers) or item are dropped and counted in ``notes``; with ``rating_col`` and ``min_rating`` rows rated
    below it are dropped (``--rating-col Quantity --min-rating 1`` drops returns and cancellations).
    """
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"{path}: no such file",
                               hint="Check the path; relative paths start from the current folder.")
    if path.stat().st_size == 0:
        raise ValidationFailed(f"{path}: the file is empty", hint="Export the data again.")
    if min_rating is not None and rating_col is None:
        raise ValidationFailed("--min-rating needs --rating-col",
                               hint="Name the column that holds the rating or quantity.")
    delimiter = decode_separator(sep)
    fh, gz = _open_text(path)
    try:
        with fh:
            head = [fh.readline() for _ in range(20)]
    except (OSError, EOFError) as exc:
        raise ValidationFailed(f"{path}: cannot read the file ({exc})",
                               hint="Check the file is complete (not a truncated .gz).") from exc
    head = [line for line in head if line.strip()]
    if not head:
        raise ValidationFailed(f"{path}: the file has no rows", hint="Export the data again.")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff("".join(head), delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    first = next(csv.reader([head[0]], delimiter=delimiter))
    headerless = columns is not None or all(_is_number(f.strip()) for f in first if f.strip())
    if headerless:
        names = list(columns) if columns is not None else list(HEADERLESS_NAMES[: len(first)])
        if len(names) != len(first):
            raise ValidationFailed(f"{path}: line 1 has {len(first)} fields but {len(names)} column names were given",
                                   hint=f"Give {len(first)} names with --columns (e.g. --columns "
                                        f"{','.join(HEADERLESS_NAMES[:len(first)]) or 'user,item'}).")
        if len(first) > len(HEADERLESS_NAMES) and columns is None:
            raise ValidationFailed(f"{path}: the file has no header and {len(first)} columns",
                                   hint="Name them with --columns a,b,c,...")
    else:
        names = [f.strip() for f in first]
    wanted = [c for c in (user_col, item_col, rating_col, time_col, item_text_col, item_category_col) if c]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ValidationFailed(f"{path}: no column {missing[0]!r}",
                               hint=f"Columns are: {', '.join(names)}." + (
                                   " The file has no header; name its columns with --columns." if headerless else ""))
    offset = 1 if headerless else 2  # file line of the first data row
    try:
        table = pd.read_csv(path, sep=delimiter, header=None if headerless else 0, names=names if headerless else None,
                            usecols=list(dict.fromkeys(wanted)), dtype=str, keep_default_na=False,
                            compression="gzip" if gz else None, encoding=encoding, skipinitialspace=True)
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path}: the file is not valid {encoding} ({exc.reason})",
                               hint="Save it as UTF-8.") from exc
    except (pd.errors.ParserError, ValueError, OSError, EOFError) as exc:
        raise ValidationFailed(f"{path}: cannot parse the file: {str(exc).strip()}",
                               hint="Check the separator (--sep) and quoting.") from exc
    table.columns = [str(c).strip() for c in table.columns]
    line = pd.Series(np.arange(len(table)) + offset, index=table.index)
    notes = []
    if rating_col:
        raw = table[rating_col].str.strip()
        rating = pd.to_numeric(raw, errors="coerce")
        bad = rating.isna()
        if bad.any():
            i = bad.idxmax()
            raise ValidationFailed(f"{path}: line {line[i]}, column {rating_col!r}: {raw[i]!r} is not a number",
                                   hint="Fix or remove the row, or choose another --rating-col.")
        table[rating_col] = rating
        if min_rating is not None:
            low = rating < min_rating
            if low.any():
                notes.append(f"dropped {int(low.sum()):,} row(s) with {rating_col} < {min_rating:g}")
            table, line = table[~low], line[~low]
    if time_col:
        raw = table[time_col].str.strip()
        numeric = pd.to_numeric(raw, errors="coerce") if len(raw) and _is_number(raw.iloc[0]) else None
        if numeric is not None and numeric.notna().all():
            table[time_col] = numeric
        else:
            with warnings.catch_warnings():
                # "could not infer format" is expected for odd files; bad rows are reported below
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(raw, errors="coerce")
            if parsed.isna().any():
                # the format inferred from the first row did not fit every row: try row by row
                parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
            bad = parsed.isna()
            if bad.any():
                i = bad.idxmax()
                raise ValidationFailed(f"{path}: line {line[i]}, column {time_col!r}: {raw[i]!r} is not a date or time",
                                       hint="Use ISO dates (2011-12-09 12:50:00) or unix seconds.")
            table[time_col] = parsed
    features = None
    if item_text_col or item_category_col:
        features = item_features_from_rows(table, item_col=item_col, text_col=item_text_col,
                                           category_col=item_category_col)
        features.index = features.index.astype("string").str.strip()
    blank_user = table[user_col].str.strip() == ""
    blank_item = (table[item_col].str.strip() == "") & ~blank_user
    data = encode_interactions(table, user_col=user_col, item_col=item_col, time_col=time_col, item_features=features)
    if blank_user.any():
        notes.append(f"dropped {int(blank_user.sum()):,} row(s) without a {user_col} (anonymous)")
    if blank_item.any():
        notes.append(f"dropped {int(blank_item.sum()):,} row(s) without a {item_col}")
    data.notes = notes
    if data.events.empty:
        raise ValidationFailed(f"{path}: no interactions left after dropping blank and low-rated rows",
                               hint="Check --user-col, --item-col and --min-rating.")
    return data
