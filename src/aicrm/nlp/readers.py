"""Reading labelled-text and feedback files for the text commands, with errors that name file, line and column."""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from aicrm.core.errors import ImportRejected, ValidationFailed


def _separator(path: Path, sep: str | None) -> str:
    if sep is None:
        return "\t" if path.suffix.lower() in (".tsv", ".txt", ".tab") else ","
    # Shells pass '\t' literally; accept it and the word "tab".
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(sep, sep)


def read_table(path: Path, *, sep: str | None = None, columns: Sequence[str] | None = None, quoting: bool | None = None) -> pd.DataFrame:
    """One text table; ``columns`` names the columns of a header-less file (e.g. ``sentence<TAB>label``).

    ``quoting`` None means CSV quoting for comma files and none for tab files (review text is full of
    unbalanced quotes, which would otherwise merge lines).
    """
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"{path}: file not found", hint="Check the path.")
    separator = _separator(path, sep)
    use_quoting = separator != "\t" if quoting is None else quoting
    try:
        table = pd.read_csv(
            path,
            sep=separator,
            header=None if columns else 0,
            names=list(columns) if columns else None,
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_MINIMAL if use_quoting else csv.QUOTE_NONE,
            engine="python" if len(separator) > 1 else "c",
            on_bad_lines="error",
            encoding="utf-8",
        )
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", hint="Save the file as UTF-8.") from exc
    except pd.errors.ParserError as exc:
        reason = str(exc).replace("Error tokenizing data. C error: ", "")
        unclosed = re.search(r"EOF inside string starting at row (\d+)", reason)
        if unclosed:  # pandas counts rows from 0 with the header as row 0: file line = row + 1
            reason = f"line {int(unclosed.group(1)) + 1}: a quoted field is never closed"
        raise ValidationFailed(
            f"{path}: cannot be read as a table with separator {separator!r}: {reason}",
            hint="Give --sep (e.g. --sep '\\t' for tab-separated files) and --columns for files without a header.",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise ValidationFailed(f"{path}: the file is empty", hint="Give a file with rows.") from exc
    table.attrs["source"] = str(path)
    table.attrs["first_line"] = 1 if columns else 2
    return table


def labelled_texts(
    paths: Sequence[Path], *, text_col: str, label_col: str, sep: str | None = None, columns: Sequence[str] | None = None,
    quoting: bool | None = None,
) -> tuple[list[str], list[str], int]:
    """(texts, labels, rows dropped for empty text) from one or more files with the same columns."""
    texts: list[str] = []
    labels: list[str] = []
    dropped = 0
    problems: list[str] = []
    for path in paths:
        table = read_table(Path(path), sep=sep, columns=columns, quoting=quoting)
        for col in (text_col, label_col):
            if col not in table.columns:
                raise ValidationFailed(
                    f"{path}: no column {col!r}; columns are {', '.join(map(str, table.columns))}",
                    hint="Name the columns with --text-col/--label-col, or --columns for files without a header.",
                )
        first = table.attrs["first_line"]
        for i, (text, label) in enumerate(zip(table[text_col], table[label_col], strict=True)):
            text, label = str(text).strip(), str(label).strip()
            if not label:
                problems.append(f"{path}, line {first + i}, column {label_col!r}: empty label")
                continue
            if not text:
                dropped += 1
                continue
            texts.append(text)
            labels.append(label)
    if problems:
        raise ImportRejected(
            f"{len(problems)} rows have no label",
            hint="Fill in or remove those rows.",
            details=problems,
        )
    if not texts:
        raise ValidationFailed("no labelled texts were read", hint="Check --text-col and --label-col.")
    return texts, labels, dropped
