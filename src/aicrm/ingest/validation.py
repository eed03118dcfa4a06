"""Strict, vectorised parsing and cleaning of imported fields; every bad cell becomes an error with its line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_LEN = {"id": 128, "str": 512, "email": 320, "phone": 32, "text": 20_000}
EMAIL_RE = r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]{2,}$"
TRUE = {"true", "t", "yes", "y", "1"}
FALSE = {"false", "f", "no", "n", "0"}
EARLIEST = pd.Timestamp("1900-01-01")
LATEST = pd.Timestamp("2100-01-01")


@dataclass
class Problems:
    """Errors found while parsing: one entry per bad cell."""

    lines: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    reasons: list[str | np.ndarray] = field(default_factory=list)

    def add(self, mask: pd.Series, lines: pd.Series, column: str, values: pd.Series, reason: str | pd.Series) -> None:
        if not mask.any():
            return
        self.lines.append(lines[mask].to_numpy())
        self.columns.append(column)
        self.values.append(values[mask].astype(str).str.slice(0, 60).to_numpy())
        self.reasons.append(reason if isinstance(reason, str) else reason[mask].to_numpy())

    def frame(self) -> pd.DataFrame:
        """All problems as a table (line, column, value, reason), sorted by line."""
        if not self.lines:
            return pd.DataFrame({"line": pd.Series(dtype="int64"), "column": [], "value": [], "reason": []})
        parts = []
        for ln, col, val, why in zip(self.lines, self.columns, self.values, self.reasons):
            parts.append(pd.DataFrame({"line": ln, "column": col, "value": val,
                                       "reason": why if not isinstance(why, str) else [why] * len(ln)}))
        return pd.concat(parts, ignore_index=True).sort_values(["line", "column"], kind="stable").reset_index(drop=True)


def _too_long(s: pd.Series, limit: int) -> pd.Series:
    return s.str.len() > limit


def parse_column(
    s: pd.Series, kind: str, *, column: str, lines: pd.Series, problems: Problems, date_format: str | None = None,
    max_abs: float | None = None, field_name: str = "",
) -> pd.Series:
    """Parse one column of trimmed strings into its type; blanks become missing; bad cells are recorded."""
    blank = s == ""
    limit = MAX_LEN.get(kind, MAX_LEN["str"])
    long_mask = ~blank & _too_long(s, limit) if kind in MAX_LEN else pd.Series(False, index=s.index)
    if kind in MAX_LEN:
        problems.add(long_mask, lines, column, s, f"value too long ({limit} characters at most)")
    if kind == "id":
        out = s.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
        return out.where(~blank & ~long_mask, None)
    if kind in ("str", "text"):
        return s.where(~blank & ~long_mask, None)
    if kind == "email":
        low = s.str.lower()
        bad = ~blank & ~long_mask & ~low.str.match(EMAIL_RE)
        problems.add(bad, lines, column, s, "not a valid e-mail address")
        return low.where(~blank & ~bad & ~long_mask, None)
    if kind == "phone":
        cleaned = s.str.replace(r"[\s\-().\/]", "", regex=True).str.replace(r"^00", "+", regex=True)
        digits = cleaned.str.replace("+", "", regex=False)
        bad = ~blank & ~long_mask & (~cleaned.str.match(r"^\+?\d+$") | (digits.str.len() < 6) | (digits.str.len() > 15))
        problems.add(bad, lines, column, s, "not a phone number (6 to 15 digits, optional leading +)")
        return cleaned.where(~blank & ~bad & ~long_mask, None)
    if kind in ("number", "int"):
        num = pd.to_numeric(s.where(~blank, None), errors="coerce")
        bad = ~blank & num.isna()
        problems.add(bad, lines, column, s, "not a number" if kind == "number" else "not a whole number")
        finite_bad = ~blank & ~bad & ~np.isfinite(num.fillna(0))
        absurd = ~blank & ~bad & (num.abs() > (max_abs or 1e12))
        problems.add(finite_bad | absurd, lines, column, s, f"absurd value (magnitude above {max_abs or 1e12:g})")
        if kind == "int":
            frac = ~blank & ~bad & (num.fillna(0) % 1 != 0)
            problems.add(frac, lines, column, s, "not a whole number")
        return num.astype("float64")
    if kind in ("date", "datetime"):
        fmt = date_format or "ISO8601"
        parsed = pd.to_datetime(s.where(~blank, None), format=fmt, errors="coerce")
        bad = ~blank & parsed.isna()
        expect = date_format or "ISO 8601, e.g. 2024-03-31 or 2024-03-31 14:05:00"
        problems.add(bad, lines, column, s, f"not a date in the expected format ({expect})")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        out_of_range = ~blank & ~bad & ((parsed < EARLIEST) | (parsed >= LATEST))
        problems.add(out_of_range, lines, column, s, "absurd date (before 1900 or after 2099)")
        if field_name == "birth_date":
            future = ~blank & ~bad & ~out_of_range & (parsed > pd.Timestamp(dt.date.today()))
            problems.add(future, lines, column, s, "birth date in the future")
        parsed = parsed.where(~bad & ~out_of_range)
        return parsed.dt.normalize() if kind == "date" else parsed
    if kind == "bool":
        low = s.str.lower()
        bad = ~blank & ~low.isin(TRUE | FALSE)
        problems.add(bad, lines, column, s, "not a yes/no value (true/false, yes/no, 1/0)")
        return low.map(lambda v: True if v in TRUE else (False if v in FALSE else None))
    raise ValueError(f"unknown field type {kind!r}")
