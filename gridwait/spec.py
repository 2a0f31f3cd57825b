"""Job specs: the TOML a researcher submits, validated into a `JobSpec`.

Every problem becomes a `SpecError` whose message names the field, so that the CLI can
print one line and write nothing.
"""

from __future__ import annotations

import getpass
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gridwait.config import describe_validation
from gridwait.errors import SpecError
from gridwait.units import parse_instant, parse_when

Task = Literal["sequence-classification", "causal-lm"]
Padding = Literal["length-grouped", "dynamic", "max"]
BUILTIN_MODELS = ("builtin:minilm",)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_Positive = Annotated[int, Field(gt=0)]


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    path: str | None = None
    """Local CSV or JSONL file (relative to the spec file)."""
    hub: str | None = None
    """Hugging Face dataset id, loaded with `datasets` when it is installed and reachable."""
    text_column: str = "text"
    label_column: str = "label"
    split: str = "train"
    limit: _Positive | None = None
    """Use only the first N examples."""


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1)
    task: Task = "sequence-classification"
    dataset: DatasetSpec
    epochs: _Positive = 1
    batch_size: _Positive = 16
    max_length: Annotated[int, Field(gt=0, le=131072)] = 128
    learning_rate: Annotated[float, Field(gt=0, lt=1)] = 5e-5
    gpus: Annotated[int, Field(ge=0, le=1024)] = 0
    deadline: str
    """ISO 8601 time with offset, or a duration from submission such as 36h."""
    earliest_start: str | None = None
    interruptible: bool = False
    owner: str = Field(default_factory=getpass.getuser, min_length=1)
    project: str = Field("default", min_length=1)
    padding: Padding = "length-grouped"
    seed: int = 42
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if value.startswith("builtin:") and value not in BUILTIN_MODELS:
            raise ValueError(
                f"unknown builtin model {value!r} (known: {', '.join(BUILTIN_MODELS)})"
            )
        return value


@dataclass(frozen=True)
class Submission:
    """A spec resolved at submission: absolute paths and UTC times."""

    spec: JobSpec
    submitted_at: datetime
    earliest_start: datetime
    deadline: datetime
    dataset_path: Path | None


def load_spec_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def parse_spec(data: dict[str, Any]) -> JobSpec:
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation(exc)) from None


def resolve(
    spec: JobSpec, now: datetime, base_dir: Path, deadline: str | None = None
) -> Submission:
    """Check what needs `now` and the file system; raise SpecError naming the field."""
    earliest = now
    if spec.earliest_start is not None:
        earliest = max(now, _field_time("earliest_start", spec.earliest_start, now))
    deadline_text = deadline if deadline is not None else spec.deadline
    due = _field_time("deadline", deadline_text, now)
    if due <= now:
        raise SpecError(f"deadline: {due.isoformat()} is in the past (now {now.isoformat()})")
    if due <= earliest:
        raise SpecError(
            f"deadline: {due.isoformat()} is not after earliest_start {earliest.isoformat()}"
        )
    return Submission(
        spec=spec,
        submitted_at=now,
        earliest_start=earliest,
        deadline=due,
        dataset_path=_dataset_path(spec, base_dir),
    )


def _field_time(field: str, text: str, now: datetime) -> datetime:
    try:
        return parse_when(text, now) if field == "deadline" else parse_instant(text)
    except ValueError as exc:
        raise SpecError(f"{field}: {exc}") from None


def _dataset_path(spec: JobSpec, base_dir: Path) -> Path | None:
    data = spec.dataset
    if (data.path is None) == (data.hub is None):
        raise SpecError("dataset: give exactly one of path (local CSV/JSONL) or hub (dataset id)")
    if data.hub is not None:
        if not _HUB_ID.match(data.hub):
            raise SpecError(f"dataset.hub: {data.hub!r} is not a dataset id")
        return None
    path = Path(data.path or "").expanduser()
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    if path.suffix.lower() not in (".csv", ".jsonl", ".json"):
        raise SpecError(f"dataset.path: {path.name} is neither .csv nor .jsonl")
    if not path.is_file():
        raise SpecError(f"dataset.path: {path} does not exist")
    return path


def check_model(spec: JobSpec, base_dir: Path) -> str:
    """The model reference to store: builtin, an absolute local path, or a hub id."""
    model = spec.model
    if model in BUILTIN_MODELS:
        return model
    local = model.startswith(("/", "./", "../", "~")) or (base_dir / model).exists()
    if local:
        path = Path(model).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not path.exists():
            raise SpecError(f"model: local path {path} does not exist")
        return str(path)
    if not _HUB_ID.match(model):
        raise SpecError(f"model: {model!r} is neither a local path nor a hub id")
    return model
