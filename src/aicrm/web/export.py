"""CSV export of any list endpoint: ``?format=csv`` returns every matching row instead of one page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel

EXPORT_MAX = 100_000
EXPORT_CHUNK = 2_000

ExportFormat = Annotated[Literal["json", "csv"], Query(
    description="`json` (default): one page. `csv`: every matching row (up to 100,000), ignoring limit and offset.")]

CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "The page as JSON, or with `format=csv` every matching row as CSV."},
}

# A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...but "+44 20 7946 0001" or "-12.5" are data, not formulas.
_NUMBERISH = re.compile(r"^[+-][0-9 .,()/-]*$")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBERISH.match(value):
        return "'" + value
    return value


def csv_response(rows: list[BaseModel], *, filename: str, model: type[BaseModel] | None = None) -> Response:
    """``rows`` as a CSV attachment, one column per field of their model."""
    model = model or (type(rows[0]) if rows else None)
    columns = list(model.model_fields) if model is not None else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump()
        writer.writerow([_cell(data.get(c)) for c in columns])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def page_or_csv(fetch: Callable[[int, int], BaseModel], *, limit: int, offset: int, format: str, filename: str):
    """``fetch(limit, offset)`` as JSON, or every row it can page through as CSV."""
    if format != "csv":
        return fetch(limit, offset)
    rows: list[BaseModel] = []
    item_model = None
    start = 0
    while start < EXPORT_MAX:
        page = fetch(min(EXPORT_CHUNK, EXPORT_MAX - start), start)
        if item_model is None:
            item_model = _item_model(type(page))
        rows.extend(page.items)
        if len(page.items) < EXPORT_CHUNK:
            break
        start += EXPORT_CHUNK
    return csv_response(rows, filename=filename, model=item_model)


def _item_model(page_model: type[BaseModel]) -> type[BaseModel] | None:
    """The item model of a ``...Page`` model (its ``items: list[X]`` field)."""
    annotation = page_model.model_fields["items"].annotation
    args = getattr(annotation, "__args__", ())
    return args[0] if args else None
