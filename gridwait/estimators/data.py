"""Reading a job's examples: local CSV or JSONL, or a Hugging Face dataset when the
`datasets` package is installed and reachable. Used by the estimator and the worker alike,
so both see the same examples in the same order."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridwait.errors import EstimateError


@dataclass(frozen=True)
class Examples:
    texts: list[str]
    labels: list[Any] | None
    digest: str
    """sha256 of the source (file bytes, or hub id and split) plus what was selected."""


def read_examples(
    dataset: str,
    text_column: str,
    label_column: str | None,
    limit: int | None = None,
    split: str = "train",
) -> Examples:
    """`dataset` is a local path or `hub:<id>` (as the job row stores it)."""
    if dataset.startswith("hub:"):
        rows, source = _hub_rows(dataset[4:], split), f"{dataset}:{split}"
    else:
        path = Path(dataset)
        if not path.is_file():
            raise EstimateError(f"dataset {path} does not exist")
        raw = path.read_bytes()
        rows, source = _file_rows(path, raw), hashlib.sha256(raw).hexdigest()
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise EstimateError(f"dataset {dataset}: no examples")
    texts, labels = [], []
    for i, row in enumerate(rows):
        if text_column not in row:
            raise EstimateError(f"dataset {dataset}: example {i} has no column {text_column!r}")
        text = row[text_column]
        if not isinstance(text, str):
            raise EstimateError(f"dataset {dataset}: example {i}: {text_column!r} is not text")
        texts.append(text)
        if label_column is not None:
            if label_column not in row or row[label_column] in ("", None):
                raise EstimateError(
                    f"dataset {dataset}: example {i} has no label in {label_column!r}"
                )
            labels.append(row[label_column])
    selection = f"{source}|{text_column}|{label_column}|{limit}"
    digest = hashlib.sha256(selection.encode()).hexdigest()
    return Examples(texts, labels if label_column is not None else None, digest)


def _file_rows(path: Path, raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EstimateError(f"dataset {path.name}: not UTF-8 text") from None
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(text.splitlines()))
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise EstimateError(f"dataset {path.name}: line {number} is not JSON") from None
        if not isinstance(row, dict):
            raise EstimateError(f"dataset {path.name}: line {number} is not a JSON object")
        rows.append(row)
    return rows


def _hub_rows(name: str, split: str) -> list[dict[str, Any]]:
    try:
        import datasets  # type: ignore[import-not-found]
    except ImportError:
        raise EstimateError(
            f"dataset hub:{name} needs the `datasets` package (pip install datasets)"
        ) from None
    try:
        loaded = datasets.load_dataset(name, split=split)
    except Exception as exc:  # noqa: BLE001  (the hub raises many kinds; all mean "cannot load")
        raise EstimateError(f"dataset hub:{name}: cannot load split {split!r}: {exc}") from None
    return [dict(row) for row in loaded]


def label_ids(labels: list[Any]) -> tuple[list[int], dict[str, int]]:
    """Labels as 0..k-1 ids (sorted by their text form) and the mapping."""
    names = sorted({str(label) for label in labels}, key=lambda s: (len(s), s))
    mapping = {name: i for i, name in enumerate(names)}
    return [mapping[str(label)] for label in labels], mapping
