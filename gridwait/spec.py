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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from gridwait.config import describe_validation
from gridwait.errors import SpecError
from gridwait.units import parse_when, read_time

Task = Literal["sequence-classification", "causal-lm"]
Padding = Literal["length-grouped", "dynamic", "max"]
BUILTIN_MODELS = ("builtin:minilm",)
MAX_SPEC_BYTES = 1024 * 1024
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_Positive = Annotated[int, Field(gt=0)]


def _printable(value: str) -> str:
    if any(ch in value for ch in _CONTROL):
        raise ValueError(f"{value!r} holds control characters (newlines, escapes)")
    return value


_CONTROL = {chr(c) for c in (*range(32), *range(127, 160))}
_Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
"""Names shown in tables: no newlines or terminal escapes."""


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
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: _Name
    model: str = Field(min_length=1, max_length=4096)
    task: Task = "sequence-classification"
    dataset: DatasetSpec
    # Upper bounds far beyond any fine-tune, so that no number makes work unbounded.
    epochs: Annotated[int, Field(gt=0, le=1000)] = 1
    batch_size: Annotated[int, Field(gt=0, le=65536)] = 16
    max_length: Annotated[int, Field(gt=0, le=131072)] = 128
    learning_rate: Annotated[float, Field(gt=0, lt=1)] = 5e-5
    gpus: Annotated[int, Field(ge=0, le=1024)] = 0
    deadline: str
    """ISO 8601 time with offset, or from submission: 36h, now+36h."""
    earliest_start: str | None = None
    interruptible: bool = False
    owner: _Name = Field(default_factory=getpass.getuser)
    project: _Name = "default"
    padding: Padding = "length-grouped"
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 42
    """numpy and torch seeds are 32-bit."""
    max_retries: Annotated[int, Field(ge=0, le=100)] | None = None

    @field_validator("deadline", "earliest_start", mode="before")
    @classmethod
    def _toml_datetime(cls, value: object) -> object:
        """A TOML datetime (deadline = 2026-05-01T09:00:00+02:00, unquoted) as its text;
        one without an offset is refused when the time is resolved."""
        if isinstance(value, datetime):
            return value.isoformat()
        return value

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
    model: str
    """builtin:NAME, an absolute local path, or a hub id."""

    @property
    def dataset(self) -> str:
        """The absolute dataset path, or hub:ID."""
        return str(self.dataset_path) if self.dataset_path else f"hub:{self.spec.dataset.hub}"


def load_spec_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: over {MAX_SPEC_BYTES // 1024} KiB; a job spec is a few lines")
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is fine
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a job spec") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read it ({exc.strerror})") from None


def parse_spec(data: dict[str, Any]) -> JobSpec:
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(describe_validation(exc)) from None


def resolve(
    spec: JobSpec, now: datetime, base_dir: Path, deadline: datetime | None = None
) -> Submission:
    """Check what needs `now` and the file system; raise SpecError naming the field.
    `deadline` overrides the spec's (the command line reads its own times)."""
    earliest = now
    if spec.earliest_start is not None:
        earliest = max(now, _field_time("earliest_start", spec.earliest_start, now))
    due = deadline if deadline is not None else _field_time("deadline", spec.deadline, now)
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
        model=check_model(spec, base_dir),
    )


def _field_time(field: str, text: str, now: datetime) -> datetime:
    """A spec's time. No local zone is given: a time without offset in a file is refused."""
    try:
        return parse_when(text, now) if field == "deadline" else read_time(text, now).utc
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
