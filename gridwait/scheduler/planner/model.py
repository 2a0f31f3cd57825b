"""What the planner takes and returns: jobs, GPUs already held, options, placements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PlanJob:
    id: int
    duration_s: float
    """Work left, in domain seconds."""
    power_w: float
    """Mean facility power while running, W."""
    gpus: int
    earliest: datetime
    deadline: datetime
    interruptible: bool = False
    resuming: bool = False
    """A suspended job: its first segment also pays the resume overhead."""
    targets: tuple[str, ...] = ()
    """The launch targets it may go to (a suspended job: where its checkpoint is);
    empty: any. Only the several-target planner (`where`) reads it."""

    @property
    def energy_j(self) -> float:
        return self.power_w * self.duration_s


@dataclass(frozen=True)
class Running:
    """GPUs held by a job already running, until it is expected to end; or, with a
    start, a later segment it has been promised (an interruptible job between segments)."""

    gpus: int
    until: datetime
    start: datetime | None = None


@dataclass(frozen=True)
class PlanOptions:
    step: timedelta = timedelta(minutes=5)
    """GPUs are reserved in whole steps from `now` (floored); interruptible jobs run in
    whole steps. Start times themselves are continuous."""
    min_segment: timedelta = timedelta(minutes=30)
    resume_overhead: timedelta = timedelta(minutes=2)
    split_margin: float = 0.0
    """An interruptible job is split only where that beats its best single window by this
    share of the window's forecast emissions (0: whenever it is cheaper at all)."""
    risk_quantile: float = 0.5
    """A forecast with a band is planned on this quantile of each period's distribution
    (planner/signal.py's risk rule; 0.5: its median)."""
    unit: str = "GPU"
    """What the capacity counts, as the reasons name it (CPU-only jobs: "CPU slot")."""


@dataclass(frozen=True)
class Placement:
    job_id: int
    start: datetime
    end: datetime
    segments: tuple[tuple[datetime, datetime], ...]
    forecast_g: float
    """Emissions of the chosen window(s) under the planning signal, gCO2eq."""
    run_now_g: float
    """The same job started at once (at its earliest start) and run straight through."""
    late: bool = False
    reason: str | None = None
    """Why the job is late, or why its window is dirtier than running now."""
    fallback_share: float = 0.0
    """Share of the chosen window's time whose intensity came from a fallback."""
    source: str = ""
    target: str = ""
    """The launch target it goes to, where the planner chose among several ("": the one)."""
    zone: str = ""
    """That target's grid zone ("" with a single target: the configured zone)."""
    where: str | None = None
    """Why this target: its forecast against the best of the others."""

    @property
    def saving_g(self) -> float:
        return self.run_now_g - self.forecast_g
