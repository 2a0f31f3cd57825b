"""The RunReporter contract: how a worker talks to the rest of gridwait.

A worker never opens the database. It starts its run through a reporter and receives a
`Ticket`: the whole resolved job spec, where to work, how to measure, and its lease. It
then sends heartbeats carrying energy samples (each renews the lease), and ends with
`finish` (succeeded or failed) or `suspended` (checkpointed, to be resumed). The same
contract runs in-process today (`gridwait.app.runs.LocalReporter`) and over HTTP once the
API exists, so a worker on a Slurm node reports exactly as a local one does.

Every message is a pydantic model so that an HTTP implementation can send it as is.
Energies are cumulative joules since the run started (IT energy: no PUE; the service
applies the facility's PUE), times are UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from gridwait.errors import StateError
from gridwait.spec import JobSpec


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EXIT_CODES = {"succeeded": 0, "failed": 1, "not-ours": 3, "suspended": 75}
"""The worker process's exit code per outcome (75 is EX_TEMPFAIL: resume me), also kept
on the run."""


class MeterSettings(_Message):
    cpu_watts_per_core: float
    ram_watts_per_gb: float
    hardware: str | None
    """A hardware table row naming what the job runs on, overriding detection."""
    sample_seconds: float
    """Real seconds between samples (and heartbeats)."""


class Ticket(_Message):
    """What a started run needs to do its work, with nothing left to look up."""

    run_id: int
    job_id: int
    attempt: int
    segment: int
    spec: JobSpec
    """The whole job spec, resolved: `model` and `dataset.path` are absolute or ids."""
    deadline: datetime
    gpus: int
    threads: int | None
    """CPU threads for a CPU-only job (cores shared between CPU slots); None on GPUs."""
    work_dir: str
    """The job's folder: checkpoints and the trained model go here."""
    checkpoint: str | None
    """The previous segment's checkpoint to resume from, if any."""
    segment_end: datetime | None
    lease_expires_at: datetime
    meter: MeterSettings
    pue: float = 1.0
    """The facility's PUE: a script's provisional energy and emissions are facility's."""
    intensity_g_per_kwh: float | None = None
    """The planned window's mean forecast intensity: provisional emissions while it runs."""


class Sample(_Message):
    """Cumulative IT joules per component since the run started, and how each was had
    (nvml_counter, nvml_power, rapl, estimated; None: the component is not measured)."""

    at: datetime
    elapsed_s: float
    """Real seconds since the run's first sample."""
    gpu_j: float | None
    cpu_j: float | None
    ram_j: float | None
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None


class TrainingResult(_Message):
    """What the training did, for the record and for calibration."""

    tokens_real: int
    tokens_padded: int
    steps: int
    """Optimizer steps done in all (this run and the segments it resumed)."""
    total_steps: int
    final_loss: float | None
    accuracy: float | None
    checkpoint: str | None
    hardware: str
    precision: str
    model_params: int
    flops: float
    """FLOPs of the tokens this run processed: training, and the eval set's forward pass."""
    eval_examples: int | None = None
    """Examples of the [eval] set (built-in fine-tunes), evaluated once training finished."""
    eval_loss: float | None = None
    """Trainer's eval_loss on them."""
    eval_accuracy: float | None = None
    """Share classified right (classification only)."""
    eval_flops: float | None = None
    """FLOPs of the eval passes, included in `flops`."""


class Outcome(_Message):
    state: Literal["succeeded", "failed", "suspended"]
    error: str | None = None
    duration_s: float
    """Real seconds from the worker's start to its end."""
    final: Sample
    result: TrainingResult | None = None
    note: str | None = None
    """How the measurement went (samples taken, their cost)."""


class RunNotOurs(StateError):
    """The run is not (or no longer) this worker's: not claimed, or settled by the reaper."""


class RunReporter(Protocol):
    def start(self, handle: str, host: str) -> Ticket:
        """Take the claimed run (claimed -> running) and return its ticket. `handle` is
        the launcher's handle as the worker knows it (its PID locally). RunNotOurs if
        the run is not claimed (already started, or settled)."""

    def heartbeat(self, samples: list[Sample]) -> bool:
        """Record samples and renew the lease; False if the run is no longer ours (the
        reaper settled it), and the worker must stop."""

    def finish(self, outcome: Outcome) -> None:
        """The run ended (succeeded or failed). RunNotOurs if it was settled meanwhile."""

    def suspended(self, outcome: Outcome) -> None:
        """The run checkpointed and exited to be resumed in a later segment."""
