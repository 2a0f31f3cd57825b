"""Job specs: the TOML a researcher submits, validated into a `JobSpec`.

Every problem becomes a `SpecError` whose message names the field, so that the CLI can
print one line and write nothing.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from gridwait.config import describe_validation
from gridwait.errors import SpecError
from gridwait.units import parse_duration, parse_when, read_time

Kind = Literal["finetune", "script"]
Method = Literal["full", "lora"]
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


class LoraSpec(BaseModel):
    """LoRA adapters (Hu et al. 2021) through PEFT: only they (and a classifier head)
    train; the base weights stay frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    r: Annotated[int, Field(gt=0, le=1024)] = 8
    alpha: Annotated[int, Field(gt=0, le=65536)] = 16
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.05
    target_modules: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=64
    )
    """Module names to adapt; default PEFT's for the model's family (BERT: query, value)."""


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: _Name
    kind: Kind = "finetune"
    """finetune: gridwait's own Trainer program; script: the researcher's command."""
    model: str | None = Field(default=None, min_length=1, max_length=4096)
    """Required for a fine-tune; for a script, with `dataset`, so its tokens are counted."""
    task: Task = "sequence-classification"
    dataset: DatasetSpec | None = None
    # A script job: its command, where and how it runs, and (without model + dataset)
    # its declared duration and power. Checked together in `resolve`.
    command: list[Annotated[str, Field(max_length=4096)]] | str | None = Field(
        default=None, max_length=4096
    )
    """An argv list; one string only with `shell = true`. `python` means `python` below."""
    shell: bool = False
    workdir: str | None = Field(default=None, max_length=4096)
    """Where the command runs (relative to the spec file); default the spec file's folder."""
    env: dict[str, Annotated[str, Field(max_length=65536)]] = Field(
        default_factory=dict, max_length=256
    )
    python: str | None = Field(default=None, max_length=4096)
    """An interpreter or a venv whose bin/ comes first on PATH; default the service's."""
    duration: str | None = None
    """Declared run time (2h30m) when tokens cannot be known."""
    power_w: Annotated[float, Field(gt=0, le=1e6)] | None = None
    """Declared mean IT power, W (with `duration`); default the hardware's."""
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
    # The built-in fine-tune's choices beyond the basics.
    method: Method = "full"
    lora: LoraSpec | None = None
    """With method = "lora"; its defaults when left out."""
    report_to: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default_factory=lambda: ["none"], min_length=1, max_length=16
    )
    """transformers' report_to integrations (tensorboard, wandb, mlflow...); none by default."""
    gradient_accumulation_steps: Annotated[int, Field(gt=0, le=65536)] = 1
    """Batches per optimizer step: the same tokens, fewer optimizer steps."""
    eval: DatasetSpec | None = None
    """Held-out examples, evaluated once training is done (loss; accuracy when classifying)."""

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
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("builtin:") and value not in BUILTIN_MODELS:
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
    model: str | None
    """builtin:NAME, an absolute local path, or a hub id; None for a declared script."""
    workdir: Path | None = None
    """A script job's folder, absolute."""
    eval_path: Path | None = None
    """The eval set's local file, absolute (None for a hub one or none)."""

    @property
    def dataset(self) -> str | None:
        """The absolute dataset path, or hub:ID; None for a declared script."""
        if self.spec.dataset is None:
            return None
        return str(self.dataset_path) if self.dataset_path else f"hub:{self.spec.dataset.hub}"

    @property
    def eval_dataset(self) -> str | None:
        """The eval set's absolute path, or hub:ID; None without one."""
        if self.spec.eval is None:
            return None
        return str(self.eval_path) if self.eval_path else f"hub:{self.spec.eval.hub}"

    @property
    def declared(self) -> bool:
        """A script job estimated from its declared duration, not from tokens."""
        return self.spec.duration is not None


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
    check_kind(spec)
    counted = spec.dataset is not None
    folder = _check_script(spec, base_dir) if spec.kind == "script" else None
    return Submission(
        spec=spec,
        submitted_at=now,
        earliest_start=earliest,
        deadline=due,
        dataset_path=None if spec.dataset is None else _dataset_path(spec.dataset, base_dir),
        model=check_model(spec, base_dir) if counted else None,
        workdir=folder,
        eval_path=None if spec.eval is None else _dataset_path(spec.eval, base_dir, "eval"),
    )


_SCRIPT_ONLY = ("command", "workdir", "env", "python", "duration", "power_w", "shell")
_FINETUNE_ONLY = ("method", "lora", "report_to", "gradient_accumulation_steps", "eval")


def check_kind(spec: JobSpec) -> None:
    """The fields each kind needs and allows, as one line naming the field."""
    if spec.kind == "finetune":
        for field in _SCRIPT_ONLY:
            if field in spec.model_fields_set:
                raise SpecError(f'{field}: only a script job (kind = "script") has it')
        if spec.model is None or spec.dataset is None:
            raise SpecError(f"{'model' if spec.model is None else 'dataset'}: required")
        if spec.lora is not None and spec.method != "lora":
            raise SpecError('lora: only with method = "lora"')
        return
    for field in _FINETUNE_ONLY:
        if field in spec.model_fields_set:
            raise SpecError(f"{field}: only the built-in fine-tune has it (a script sets its own)")
    _check_command(spec.command, spec.shell)
    if spec.duration is not None:
        if spec.model is not None or spec.dataset is not None:
            raise SpecError(
                "duration: give either a declared duration or model + dataset (whose tokens"
                " are counted), not both"
            )
        try:
            parse_duration(spec.duration)
        except ValueError as exc:
            raise SpecError(f"duration: {exc}") from None
        return
    if spec.power_w is not None:
        raise SpecError("power_w: only with a declared duration")
    if spec.model is None or spec.dataset is None:
        raise SpecError(
            f"{'model' if spec.model is None else 'dataset'}: a script job needs model +"
            " dataset (so that its tokens are counted) or a declared duration"
        )


def _check_command(command: list[str] | str | None, shell: bool) -> None:
    if not command:
        raise SpecError('command: a script job needs one, e.g. ["python", "train.py"]')
    if shell and not isinstance(command, str):
        raise SpecError("shell: with shell = true the command is one string, not an argv list")
    if not shell and isinstance(command, str):
        raise SpecError(
            'command: an argv list such as ["python", "train.py"]; a string runs only with'
            " shell = true"
        )
    if any("\x00" in part for part in ([command] if isinstance(command, str) else command)):
        raise SpecError("command: holds a NUL character")


def _check_script(spec: JobSpec, base_dir: Path) -> Path:
    """A script job's folder (absolute) once its interpreter and program are found."""
    folder = Path(spec.workdir).expanduser() if spec.workdir else base_dir
    folder = folder if folder.is_absolute() else (base_dir / folder).resolve()
    if not folder.is_dir():
        raise SpecError(f"workdir: {folder} is not a folder")
    if spec.python is not None and not Path(spec.python).expanduser().exists():
        raise SpecError(f"python: {spec.python} does not exist")
    if not spec.shell and isinstance(spec.command, list):
        program = spec.command[0]
        if program not in ("python", "python3") and program_path(program, folder) is None:
            raise SpecError(f"command: {program!r} is not a program found from {folder}")
    return folder


def program_path(program: str, folder: Path) -> Path | None:
    """Where `program` is: relative to `folder` when it names a path, else on PATH."""
    if "/" in program:
        path = (folder / Path(program).expanduser()).resolve()
        return path if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which(program)
    return Path(found) if found else None


def _field_time(field: str, text: str, now: datetime) -> datetime:
    """A spec's time. No local zone is given: a time without offset in a file is refused."""
    try:
        return parse_when(text, now) if field == "deadline" else read_time(text, now).utc
    except ValueError as exc:
        raise SpecError(f"{field}: {exc}") from None


def _dataset_path(data: DatasetSpec, base_dir: Path, field: str = "dataset") -> Path | None:
    if (data.path is None) == (data.hub is None):
        raise SpecError(f"{field}: give exactly one of path (local CSV/JSONL) or hub (dataset id)")
    if data.hub is not None:
        if not _HUB_ID.match(data.hub):
            raise SpecError(f"{field}.hub: {data.hub!r} is not a dataset id")
        return None
    path = Path(data.path or "").expanduser()
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    if path.suffix.lower() not in (".csv", ".jsonl", ".json"):
        raise SpecError(f"{field}.path: {path.name} is neither .csv nor .jsonl")
    if not path.is_file():
        raise SpecError(f"{field}.path: {path} does not exist")
    return path


def check_model(spec: JobSpec, base_dir: Path) -> str:
    """The model reference to store: builtin, an absolute local path, or a hub id."""
    model = spec.model
    if model is None:
        raise SpecError("model: required")
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
