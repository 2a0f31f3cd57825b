"""Watching gridwait's real worker path from outside, without changing it: when each
optimizer step began and ended, and when each energy sample was taken and reported.

- `TimedMeter` is the run's `RunMeter` noting when every read starts (a sample starts
  with the meter read) and `TimedReporter` the run's `RunReporter` noting when every
  heartbeat returns (a sample ends with its heartbeat): the Sampler calls them in turn,
  once per sample, so the two lists pair up into the samples' intervals.
- `StepTimes` is a transformers `TrainerCallback` recording each step's interval (the
  fine-tune's loss.item() synchronises the GPU every step) and, where given, the GPU
  energy counter at the start and end of the training loop and the SM clock and power
  at its middle step. `finetune()` takes no callbacks, so `step_timing` adds it to
  transformers' DEFAULT_CALLBACKS for the duration of a run (a stand-in for a
  `callbacks` argument on finetune; see the report).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback

from benchmarks.gpu_nvml import Probe
from gridwait.workers.meters import Measurement, RunMeter
from gridwait.workers.reporter import Outcome, RunReporter, Sample, Ticket


class TimedMeter(RunMeter):
    def __init__(self, inner: RunMeter) -> None:
        super().__init__(inner.clock, inner.gpu, inner.cpu, inner.ram)
        self.read_starts: list[float] = []

    def read(self) -> Measurement:
        self.read_starts.append(time.monotonic())
        return super().read()


class TimedReporter:
    """A `RunReporter` passing everything to `inner`, noting when heartbeats return."""

    def __init__(self, inner: RunReporter) -> None:
        self.inner = inner
        self.heartbeat_ends: list[float] = []

    def start(self, handle: str, host: str) -> Ticket:
        return self.inner.start(handle, host)

    def heartbeat(self, samples: list[Sample]) -> bool:
        ours = self.inner.heartbeat(samples)
        self.heartbeat_ends.append(time.monotonic())
        return ours

    def finish(self, outcome: Outcome) -> None:
        self.inner.finish(outcome)

    def suspended(self, outcome: Outcome) -> None:
        self.inner.suspended(outcome)


def sample_intervals(meter: TimedMeter, reporter: TimedReporter) -> list[tuple[float, float]]:
    return list(zip(meter.read_starts, reporter.heartbeat_ends, strict=False))


@dataclass
class Timeline:
    """What `StepTimes` saw of one training loop (monotonic seconds, joules, MHz, W)."""

    train_begin: float | None = None
    train_end: float | None = None
    steps: list[tuple[float, float]] = field(default_factory=list)
    gpu_j_begin: float | None = None
    gpu_j_end: float | None = None
    load_sm_mhz: int | None = None
    load_power_w: float | None = None


class StepTimes(TrainerCallback):
    def __init__(self, probe: Probe | None, middle_step: int) -> None:
        self.probe, self.middle = probe, middle_step
        self.timeline = Timeline()
        self._began = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.timeline.train_begin = time.monotonic()
        if self.probe is not None:
            self.timeline.gpu_j_begin = self.probe.joules()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._began = time.monotonic()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.timeline.steps.append((self._began, time.monotonic()))
        if self.probe is not None and state.global_step == self.middle:
            self.timeline.load_sm_mhz = self.probe.sm_mhz()
            self.timeline.load_power_w = self.probe.watts()

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.timeline.train_end = time.monotonic()
        if self.probe is not None:
            self.timeline.gpu_j_end = self.probe.joules()


@contextmanager
def step_timing(callback: StepTimes) -> Iterator[bool]:
    """Every Trainer built inside gets `callback`; yields False where this transformers
    has no DEFAULT_CALLBACKS list (the run then goes untimed)."""
    from transformers import trainer

    defaults = getattr(trainer, "DEFAULT_CALLBACKS", None)
    if not isinstance(defaults, list):
        yield False
        return
    defaults.append(callback)
    try:
        yield True
    finally:
        defaults.remove(callback)
