"""The Launcher contract: how the service starts, follows, stops and suspends workers.

A handle is a string the launcher understands (a pid for the local launcher, a job id
for Slurm) and is stored on the run, so a restarted service can follow runs it did not
start itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


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
    """GRIDWAIT_* variables the worker needs (database, settings file, clock)."""


@dataclass(frozen=True)
class Status:
    state: LaunchState
    exit_code: int | None = None


class Launcher(ABC):
    @abstractmethod
    def start(self, request: RunRequest) -> str:
        """Start the worker for a claimed run; return its handle. LaunchError if it cannot."""

    @abstractmethod
    def poll(self, handle: str) -> Status:
        """Whether the worker still runs; exited with its code if known."""

    @abstractmethod
    def cancel(self, handle: str) -> None:
        """Stop the worker now (no checkpoint). A worker already gone is not an error."""

    @abstractmethod
    def suspend(self, handle: str) -> None:
        """Ask the worker to checkpoint and exit (it ends as suspended)."""
