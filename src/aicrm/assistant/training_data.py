"""Labelled example messages for intent training: a YAML file of intents or a CSV/TSV of text and label columns."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from aicrm.core.errors import ImportRejected, ValidationFailed

DEFAULT_INTENTS = Path(__file__).with_name("data") / "default_intents.yaml"


def load_examples(path: str | Path, *, text_col: str = "text", label_col: str = "label") -> tuple[list[str], list[str]]:
    """The (texts, labels) of a YAML intents file or a CSV/TSV; refuses empty texts or labels, naming file and line.

    YAML: ``intents: {name: {examples: [...]}}`` (or ``{name: [...]}``, or a list of ``{intent, examples}``).
    CSV/TSV: a header row naming ``text_col`` and ``label_col``; multi-line quoted texts are fine.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationFailed(f"{path}: no such file", hint="Check the path of the examples file.")
    if path.suffix.lower() in (".yaml", ".yml"):
        return _load_yaml(path)
    return _load_table(path, text_col=text_col, label_col=label_col)


def _load_yaml(path: Path) -> tuple[list[str], list[str]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise ValidationFailed(f"{path}{where}: not valid YAML ({exc.__class__.__name__})",
                               hint="Fix the YAML syntax; see src/aicrm/assistant/data/default_intents.yaml.") from None
    intents = doc.get("intents") if isinstance(doc, dict) else None
    if isinstance(intents, list):
        intents = {item.get("intent"): item.get("examples") for item in intents if isinstance(item, dict)}
    if not isinstance(intents, dict) or not intents:
        raise ValidationFailed(f"{path}: no 'intents' mapping found",
                               hint="Write `intents:` with one entry per intent holding a list of `examples:`.")
    texts, labels, problems = [], [], []
    for name, body in intents.items():
        examples = body.get("examples") if isinstance(body, dict) else body
        if not name or not isinstance(examples, list) or not examples:
            problems.append(f"{path}: intent {name!r}: needs a non-empty list of examples")
            continue
        for i, example in enumerate(examples, start=1):
            if not isinstance(example, (str, int, float)) or not str(example).strip():
                problems.append(f"{path}: intent {name!r}: example {i} is empty")
                continue
            texts.append(str(example).strip())
            labels.append(str(name))
    if problems:
        raise ImportRejected(f"{path}: {len(problems)} bad intent entr{'y' if len(problems) == 1 else 'ies'}",
                             hint="Give every intent a list of non-empty example strings.", details=problems)
    return texts, labels


def _load_table(path: Path, *, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                raise ValidationFailed(f"{path}: the file is empty",
                                       hint="Give a header row, then one example per row.")
            header = [h.strip() for h in header]
            missing = [c for c in (text_col, label_col) if c not in header]
            if missing:
                raise ValidationFailed(
                    f"{path}: column{'s' if len(missing) > 1 else ''} {', '.join(repr(c) for c in missing)} not found "
                    f"(the header has {', '.join(repr(h) for h in header)})",
                    hint="Name the columns with --text-col and --label-col.")
            ti, li = header.index(text_col), header.index(label_col)
            texts, labels, problems = [], [], []
            line = reader.line_num
            for row in reader:
                # reader.line_num is the physical line where the record ends; a quoted multi-line text starts earlier.
                start, line = line + 1, reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                text = row[ti].strip() if ti < len(row) else ""
                label = row[li].strip() if li < len(row) else ""
                if not text or not label:
                    column = text_col if not text else label_col
                    problems.append((start, column))
                    continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError:
        raise ValidationFailed(f"{path}: not UTF-8 text", hint="Save the file as UTF-8 CSV.") from None
    except csv.Error as exc:
        raise ValidationFailed(f"{path} line {reader.line_num}: {exc}", hint="Fix the CSV quoting.") from None
    if problems:
        line, column = problems[0]
        raise ImportRejected(f"{path}: {len(problems)} row(s) with an empty value (first at line {line}, "
                             f"column {column!r})", hint="Fill in or remove those rows.",
                             details=[f"{path}:{n}: column {c!r}: empty value" for n, c in problems])
    if not texts:
        raise ValidationFailed(f"{path}: no example rows after the header", hint="Add one example per row.")
    return texts, labels
