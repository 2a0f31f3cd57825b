"""The [slurm] settings section: the cluster gridwait fronts and its partitions (part of
the one Settings object of gridwait.config)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gridwait.settings_base import Section, http_url


class PartitionSettings(Section):
    """A Slurm partition gridwait submits to: what it lends and on what hardware."""

    gpus: int = Field(0, ge=0, le=100_000)
    """GPUs of this partition that gridwait plans with (capacity), checked against sinfo."""
    gpu_model: str | None = None
    """Row of the estimator's hardware table the jobs' energy is estimated on (e.g.
    "A100-SXM"); the front-door host's own hardware is never used for a cluster."""
    account: str | None = None
    qos: str | None = None
    time_limit_minutes: float | None = Field(None, gt=0, le=365 * 24 * 60)
    """--time for every job; default: the partition's own limit."""


class SlurmSettings(Section):
    """The Slurm cluster gridwait fronts (`launcher = "slurm"`): sbatch, scontrol, squeue,
    sacct and sinfo run on this host with these settings; workers on the compute nodes
    report to `api_url` with their run's own token."""

    conf: Path | None = None
    """SLURM_CONF for every command; None leaves Slurm to find its own."""
    timeout: float = Field(30.0, gt=0, le=600)
    """Seconds one Slurm command may take before it counts as failed."""
    accounting: Literal["jobcomp", "database"] = "jobcomp"
    """Where finished jobs are read: `sacct -c` on the job-completion file, or `sacct` on
    slurmdbd."""
    api_url: str = "http://127.0.0.1:8787"
    """The gridwait API as the compute nodes reach it (not necessarily [api] listen)."""
    python: str = "python3"
    """The python on the compute nodes that has gridwait installed."""
    partition: str = "gpu"
    """The partition jobs are submitted to and planned on (a row of `partitions`)."""
    partitions: dict[str, PartitionSettings] = Field(default_factory=dict)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value, "http://gridwait.lab:8787")

    @model_validator(mode="after")
    def _known_partition(self) -> SlurmSettings:
        if self.partitions and self.partition not in self.partitions:
            known = ", ".join(sorted(self.partitions))
            raise ValueError(
                f"partition {self.partition!r} is not one of [slurm.partitions] ({known})"
            )
        return self

    def target(self) -> PartitionSettings:
        """The partition jobs go to; its capacity and hardware plan them."""
        return self.partitions.get(self.partition) or PartitionSettings()
