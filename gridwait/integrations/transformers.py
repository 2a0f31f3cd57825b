"""gridwait's side of a script job that trains with transformers' Trainer.

A training script needs two lines::

    attach(trainer)  # or Trainer(..., callbacks=[GridwaitCallback()])
    trainer.train(resume_from_checkpoint=resume_checkpoint(args.output_dir))

`attach` puts the callback ahead of the report_to integrations, which Trainer otherwise
runs before any callback passed in `callbacks=`, so that they log gridwait's keys too.

The protocol with the worker (the parent process): environment variables and two JSON
files, nothing else.

GRIDWAIT_RUN_ID, GRIDWAIT_JOB_ID
    Set when the script runs under gridwait. Without GRIDWAIT_RUN_ID the callback warns
    once ("not running under gridwait; GridwaitCallback does nothing") and does nothing.
GRIDWAIT_RESULT_FILE
    The callback writes it at every log and at the end of training, atomically (a
    temporary file in the same folder, then os.replace)::

        {"tokens_real": int, "tokens_padded": int, "steps": int, "total_steps": int,
         "final_loss": float | null, "examples": int}

    `steps` is state.global_step (optimizer steps in all, those of the runs this one
    resumed included) and `total_steps` state.max_steps. `tokens_real` (non-padding),
    `tokens_padded` (every position) and `examples` count what this process trained on.
    `final_loss` is the latest "loss" logged (the run's "train_loss" if none was).
GRIDWAIT_STATUS_FILE
    The worker rewrites it every few seconds: {"energy_kwh": float, "emissions_g": float |
    null}. At each log the callback adds "gridwait/energy_kwh" and, when not null,
    "gridwait/emissions_g" to the logs, for the callbacks after it. A missing or unreadable
    file is skipped.
GRIDWAIT_RESUME
    "1" when this run continues a suspended one: `resume_checkpoint` then names the latest
    complete checkpoint-N of the output folder.
GRIDWAIT_GRACE_SECONDS
    To suspend the job the worker sends SIGTERM, then SIGKILL after this many seconds
    (default 60). From on_train_begin to on_train_end (when training runs in the main
    thread) the callback catches SIGTERM: the current optimizer step finishes, then it
    logs, saves a checkpoint and stops training, and in on_train_end, once the result
    file is written, raises SystemExit(75). Exit code 75 (EX_TEMPFAIL) tells the worker
    "suspended, resume me"; the script's code after trainer.train() does not run. One
    step and one checkpoint must fit in the grace period. A signal after the last step
    changes nothing: training ends as usual. Outside training, SIGTERM keeps its default
    effect (the process ends).
    Raised in its on_train_end, the exit skips the on_train_end of the callbacks after
    GridwaitCallback; `attach` adds a last callback that raises it instead, once all the
    others are done. GridwaitCallback(exit_on_suspend=False) leaves the exit to the
    script: `if callback.suspended: sys.exit(EXIT_SUSPENDED)`.

gridwait's own fine-tune trains with this callback too, in the worker's process: it passes
`env` (no result file: the worker reads `tally` itself) and `stop`, an Event the worker
sets at the segment's end, in place of the SIGTERM handler.

Counting tokens. A callback sees no batches, so on_train_begin hooks the model's forward
(a forward pre-hook) and counts the inputs of every pass made in training mode with
gradients on: each micro-batch of a gradient-accumulation step once, every epoch, and
after a resume only the batches this process trains (Trainer skips the others without a
forward). Evaluation (eval mode) and no-grad passes are not counted; neither are batches
the data loader prefetched but nobody trained on. `tokens_real` is the number of
non-zero attention_mask entries (every position where a batch has no mask),
`tokens_padded` is input_ids.numel(). Trainer's own `include_num_input_tokens_seen`
gives only one of the two, and only where the script turned it on. This assumes one
forward pass per micro-batch with input_ids, as Trainer's compute_loss makes; a custom
loss that runs the model twice in training mode counts both passes, and a Trainer built
with `model_init` trains a model the callback never sees (it then logs a warning, and the
counts stay 0). Under several processes (torchrun) the main process writes the result,
with its own batches only.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import tempfile
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from transformers import (
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

log = logging.getLogger(__name__)

EXIT_SUSPENDED = 75
"""EX_TEMPFAIL: the worker reads it as "suspended, resume me"."""
NOT_UNDER_GRIDWAIT = "not running under gridwait; GridwaitCallback does nothing"


@dataclass(frozen=True)
class GridwaitEnv:
    """What the worker told this process, from its environment."""

    run_id: str
    job_id: str | None
    result_file: Path | None
    status_file: Path | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GridwaitEnv | None:
        """None when the process does not run under gridwait."""
        run_id = environ.get("GRIDWAIT_RUN_ID")
        if not run_id:
            return None
        result, status = environ.get("GRIDWAIT_RESULT_FILE"), environ.get("GRIDWAIT_STATUS_FILE")
        return cls(
            run_id=run_id,
            job_id=environ.get("GRIDWAIT_JOB_ID"),
            result_file=Path(result) if result else None,
            status_file=Path(status) if status else None,
        )

    @classmethod
    def inside(cls, status_file: Path | None) -> GridwaitEnv:
        """The worker's own fine-tune, which trains in the worker's process: no result
        file (the worker reads the callback itself)."""
        return cls(run_id="worker", job_id=None, result_file=None, status_file=status_file)


def resume_checkpoint(output_dir: str | os.PathLike[str]) -> str | None:
    """The checkpoint to resume from: when GRIDWAIT_RESUME is "1", the checkpoint-N folder
    of `output_dir` with the highest N among those Trainer finished writing (it writes
    trainer_state.json last, so a save cut short by SIGKILL is passed over); else None."""
    if os.environ.get("GRIDWAIT_RESUME") != "1":
        return None
    root = Path(output_dir)
    prefix = f"{PREFIX_CHECKPOINT_DIR}-"
    steps = [
        int(path.name.removeprefix(prefix))
        for path in (root.glob(f"{prefix}*") if root.is_dir() else [])
        if path.name.removeprefix(prefix).isdigit() and (path / "trainer_state.json").is_file()
    ]
    return str(root / f"{prefix}{max(steps)}") if steps else None


@dataclass
class Tally:
    """What this process trained on, counted at each forward pass in training mode."""

    real: Any = 0
    """Non-padding tokens: an int, or a 0-d tensor on the model's device until read (so
    that counting costs no device synchronisation)."""
    padded: int = 0
    examples: int = 0

    def count(self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """A forward pre-hook (register_forward_pre_hook(..., with_kwargs=True))."""
        if not (module.training and torch.is_grad_enabled()):
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if not isinstance(ids, torch.Tensor):
            return
        mask = kwargs.get("attention_mask")
        self.padded += ids.numel()
        self.examples += ids.shape[0] if ids.dim() > 1 else 1
        self.real = self.real + (
            mask.count_nonzero() if isinstance(mask, torch.Tensor) else ids.numel()
        )


class GridwaitCallback(TrainerCallback):
    """Reports progress and tokens to the gridwait worker, adds its energy to the logs, and
    checkpoints and exits with code 75 on SIGTERM (or when `stop` is set); does nothing
    outside gridwait."""

    def __init__(
        self,
        exit_on_suspend: bool = True,
        *,
        env: GridwaitEnv | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """`exit_on_suspend=False`: after a suspension trainer.train() returns, and the
        script must exit with EXIT_SUSPENDED itself (see `suspended`). `env`: instead of
        the process environment's. `stop`: checkpoint and stop when it is set, instead of
        on SIGTERM (the worker's own fine-tune, whose process handles the signals)."""
        self.env = env if env is not None else GridwaitEnv.from_environ(os.environ)
        self.exit_on_suspend = exit_on_suspend
        self.stop = stop
        self.tally = Tally()
        self.suspended = False
        """Training stopped on SIGTERM (or `stop`) before its last step."""
        self.final_loss: float | None = None
        self._train_loss: float | None = None
        self._signalled = False
        self._warned_uncounted = False
        self._hook: Any = None
        self._handling = False
        self._previous_handler: Any = None
        if self.env is None:
            warnings.warn(NOT_UNDER_GRIDWAIT, stacklevel=2)

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: torch.nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        if self.env is None:
            return
        if self._hook is not None:
            self._hook.remove()
        if model is not None:
            self._hook = model.register_forward_pre_hook(self.tally.count, with_kwargs=True)
        main = threading.current_thread() is threading.main_thread()
        if self.stop is None and main and not self._handling:
            self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._handling = True

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True  # only a flag: a handler may interrupt anything

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.env is not None and self.tally.examples == 0 and not self._warned_uncounted:
            self._warned_uncounted = True
            log.warning(
                "gridwait: a step ran, but no training forward pass of the model this callback"
                " was given (is it the one trained? with model_init it is not): tokens stay 0"
            )
        stopped = self._signalled or (self.stop is not None and self.stop.is_set())
        if stopped and state.global_step < state.max_steps:
            if not self.suspended:
                log.info("gridwait: stopping; checkpointing at step %d", state.global_step)
            self.suspended = True
            control.should_log = True
            control.should_save = True
            control.should_training_stop = True

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.env is None or logs is None:
            return
        if self.env.status_file is not None:
            logs.update(read_status(self.env.status_file))
        if _is_number(logs.get("loss")) and math.isfinite(logs["loss"]):
            self.final_loss = float(logs["loss"])
        if _is_number(logs.get("train_loss")) and math.isfinite(logs["train_loss"]):
            self._train_loss = float(logs["train_loss"])
        self._write_result(state)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.env is None:
            return
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self._handling:  # None: a handler not set from Python, which we cannot put back
            previous = self._previous_handler
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
            self._handling = False
        self._write_result(state)
        if self.suspended and self.exit_on_suspend:
            raise SystemExit(EXIT_SUSPENDED)

    def result(self, state: TrainerState) -> dict[str, Any]:
        """The result file's content."""
        return {
            "tokens_real": int(self.tally.real),
            "tokens_padded": self.tally.padded,
            "steps": state.global_step,
            "total_steps": state.max_steps,
            "final_loss": self.final_loss if self.final_loss is not None else self._train_loss,
            "examples": self.tally.examples,
        }

    def _write_result(self, state: TrainerState) -> None:
        path = self.env.result_file if self.env is not None else None
        if path is not None and state.is_world_process_zero:
            write_atomically(path, self.result(state))


class _ExitWhenSuspended(TrainerCallback):
    """The last callback: exits with code 75 once every other one has seen on_train_end."""

    def __init__(self, gridwait: GridwaitCallback) -> None:
        self.gridwait = gridwait

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.gridwait.suspended:
            raise SystemExit(EXIT_SUSPENDED)


def attach(trainer: Trainer) -> GridwaitCallback:
    """Add a GridwaitCallback to `trainer` ahead of all its callbacks, so that the report_to
    integrations log gridwait's keys, and its exit on suspension after all of them, so that
    they finish first (TensorBoard, for one, flushes its files in on_train_end)."""
    callback = GridwaitCallback(exit_on_suspend=False)
    put_first(trainer, callback)
    if callback.env is not None:
        trainer.add_callback(_ExitWhenSuspended(callback))
    return callback


def put_first(trainer: Trainer, callback: TrainerCallback) -> None:
    """Make `callback` the first of `trainer`'s: Trainer runs its report_to integrations
    before the callbacks given to it, so they would not see the keys it adds to the logs."""
    trainer.callback_handler.callbacks.insert(0, callback)


def read_status(path: Path) -> dict[str, float]:
    """The worker's status as "gridwait/" log keys; {} while the file is missing or not (or
    not yet) a valid status."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: half a file, or not UTF-8
        return {}
    if not isinstance(status, dict) or not _is_number(status.get("energy_kwh")):
        return {}
    keys = {"gridwait/energy_kwh": float(status["energy_kwh"])}
    if _is_number(status.get("emissions_g")):
        keys["gridwait/emissions_g"] = float(status["emissions_g"])
    return keys


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` as JSON to `path` so that a reader sees the old file or the new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(data, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
