"""Jinja2 filters for numbers, money, percentages and dates on dashboard pages."""

from __future__ import annotations

import datetime as dt


def num(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def compact(value) -> str:
    """12345678 -> 12.3M; keeps KPI cards short on a phone."""
    if value is None:
        return "–"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def pct(value, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.{digits}f}%"


def date(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%d %b %Y %H:%M") if (value.hour or value.minute) else value.strftime("%d %b %Y")
    return value.strftime("%d %b %Y")


def day(value) -> str:
    return "–" if value is None else value.strftime("%d %b %Y")


def risk_class(band: str | None, probability: float | None = None) -> str:
    """A CSS class for a churn risk band (falls back to the probability when the band is unnamed)."""
    name = (band or "").lower()
    if name in ("high", "very high", "very_high", "critical"):
        return "risk-high"
    if name in ("medium", "moderate"):
        return "risk-medium"
    if name == "low":
        return "risk-low"
    if probability is None:
        return ""
    return "risk-high" if probability >= 0.66 else "risk-medium" if probability >= 0.33 else "risk-low"


def register(env) -> None:
    env.filters.update(num=num, compact=compact, pct=pct, date=date, day=day, risk_class=risk_class)
