"""The Launcher contract: how the service starts, follows, stops and suspends workers.

A handle is a string the launcher understands (a pid for the local launcher, a job id
for Slurm) and is stored on the run, so a restarted service can follow runs it did not
start itself.

Two kinds of launcher. The local one starts the worker now: the service calls `start` at
the planned time. One whose engine has its own queue (Slurm) *submits ahead*
(`submits_ahead`): the service books the run when it plans it, `start` hands the engine
the request with its `begin` time, a re-plan calls `move`, and the engine starts the
worker itself at that time (or later, when its nodes are busy).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from gridwait.errors import LaunchError


class LaunchState(StrEnum):
    RUNNING = "running"
    EXITED = "exited"
    """The worker is gone; `exit_code` says how, when the launcher knows."""


@dataclass(frozen=True)
class RunRequest:
    run_id: int
    job_id: int
    gpu_ids: list[str]
    log_path: Path
    environment: dict[str, str]
    """GRIDWAIT_* variables the worker needs (database, settings file, clock; or the API
    URL and the run's own token for a worker on another host)."""
    begin: datetime | None = None
    """The planned start (aware UTC): a launcher that submits ahead starts the worker no
    earlier. None: now."""
    gpus: int | None = None
    """GPUs the engine allocates itself (Slurm); None: as many as `gpu_ids`."""


@dataclass(frozen=True)
class Status:
    state: LaunchState
    exit_code: int | None = None


class Launcher(ABC):
    submits_ahead: ClassVar[bool] = False
    """True: `start` queues the worker in the engine for `request.begin`; the service
    books runs when it plans them and moves them with `move` when the plan changes."""

    @abstractmethod
    def start(self, request: RunRequest) -> str:
        """Start the worker for a claimed run; return its handle. LaunchError if it cannot."""

    @abstractmethod
    def poll(self, handle: str) -> Status:
        """Whether the worker still runs; exited with its code if known."""

    def poll_all(self, handles: Sequence[str]) -> dict[str, Status]:
        """`poll` of each handle, by handle. An engine that answers for all its jobs at once
        overrides it (Slurm: one `squeue` a tick, however many runs are live)."""
        return {handle: self.poll(handle) for handle in handles}

    @abstractmethod
    def cancel(self, handle: str) -> None:
        """Stop the worker now (no checkpoint). A worker already gone is not an error."""

    @abstractmethod
    def suspend(self, handle: str) -> None:
        """Ask the worker to checkpoint and exit (it ends as suspended)."""

    def move(self, handle: str, begin: datetime) -> None:
        """Make a worker queued ahead start no earlier than `begin` (earlier or later than
        before). LaunchError where the engine cannot: a worker started now has no begin
        time left to move."""
        del handle, begin
        raise LaunchError(f"the {type(self).__name__} starts workers at once: nothing to move")

    def check_capacity(self, gpus: int, declared: str | None = None) -> None:
        """LaunchError, saying what to fix, if the engine has fewer than the `gpus` GPUs
        the settings plan with; `declared` names the setting that says so (default: the
        engine's own section). The local launcher trusts [scheduler] gpus."""
        del gpus, declared

    def load(self) -> str | None:
        """One line on how busy the engine is (jobs waiting for its resources), for the
        plan; None where the engine keeps no queue of its own."""
        return None

    def measured_energy(self, handle: str) -> tuple[float, str] | None:
        """(joules, method) the engine itself measured for this finished worker (Slurm's
        ConsumedEnergyRaw: `slurm_acct`), stored beside gridwait's own measurement as a
        cross-check; None where it measured nothing (the local launcher never does)."""
        del handle
        return None
