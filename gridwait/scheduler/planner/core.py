"""`plan`: every job placed, one by one, earliest deadline first (then larger energy,
then id), each taking GPUs off the capacity so the queue does not pile into one green
window. A job that cannot finish by its deadline starts at the earliest time it can and
is marked late with the reason; nothing is ever dropped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner.capacity import Capacity
from gridwait.scheduler.planner.contiguous import Gpus, cheapest_start
from gridwait.scheduler.planner.model import Placement, PlanJob, PlanOptions, Running
from gridwait.scheduler.planner.signal import Signal, build_signal, describe
from gridwait.scheduler.planner.split import Segments, SplitRules, best_split
from gridwait.units import J_PER_KWH

DEFAULTS = PlanOptions()
ERROR_MARGIN = 0.5
"""Where a forecast states its error (a share of the mean), a split must beat the single
window by this many times that share. A split picks its periods one by one, so it picks
the forecast's errors too: its grams are under-forecast more than a single window's
(which averages the errors of neighbouring periods). Half the stated error keeps every
row of the noisy backtests at or above the single-window planner's saving (see
benchmarks/backtests.py)."""
SLACK_S = 1e-6
"""Seconds of rounding a deadline check forgives."""


@dataclass(frozen=True)
class Inputs:
    """The intensity data of one planning pass."""

    forecast: IntensitySeries
    fallback: IntensitySeries | None


@dataclass
class _Pass:
    """One planning pass: the signal (grown on demand), the capacity, the rules."""

    now: datetime
    inputs: Inputs
    signal: Signal
    capacity: Capacity | None
    options: PlanOptions
    source: str = field(init=False)
    split_margin: float = field(init=False)

    def __post_init__(self) -> None:
        risk = self.options.risk_quantile
        self.source = describe(self.inputs.forecast, self.inputs.fallback, risk)
        stated = self.inputs.forecast.error or 0.0
        self.split_margin = min(0.5, max(self.options.split_margin, ERROR_MARGIN * stated))

    def pos(self, when: datetime) -> float:
        return (when - self.signal.origin).total_seconds()

    def time(self, pos: float) -> datetime:
        return self.signal.origin + timedelta(seconds=pos)

    def ensure(self, end_s: float) -> None:
        """The merged signal reaches `end_s` (seconds): late jobs may run past the horizon."""
        if end_s > self.signal.end_s:
            end = self.time(max(end_s, 2 * self.signal.end_s))
            inputs = self.inputs
            self.signal = build_signal(
                self.signal.origin,
                end,
                inputs.forecast,
                inputs.fallback,
                self.options.risk_quantile,
            )

    def need(self, job: PlanJob) -> Gpus | None:
        return None if self.capacity is None or job.gpus == 0 else Gpus(self.capacity, job.gpus)

    def grams(self, job: PlanJob, segments: Sequence[tuple[float, float]]) -> float:
        self.ensure(segments[-1][1])
        integral, total = self.signal.intensity.integral, 0.0
        for a, b in segments:  # a loop, not sum(generator): called twice per job
            total += integral(a, b)
        return job.power_w * total / J_PER_KWH

    def fallback_share(self, segments: Sequence[tuple[float, float]]) -> float:
        total = sum(b - a for a, b in segments)
        if total <= 0 or (segments[-1][1] <= self.signal.end_s and not self.signal.any_fallback):
            return 0.0
        flags = self.signal.fallback
        return sum(flags.integral(a, b) for a, b in segments) / total


def plan(
    now: datetime,
    jobs: Sequence[PlanJob],
    forecast: IntensitySeries,
    capacity: int | None,
    running: Sequence[Running] = (),
    *,
    fallback: IntensitySeries | None = None,
    options: PlanOptions = DEFAULTS,
) -> list[Placement]:
    """A placement for every job, in the order they were placed (EDF, energy, id)."""
    if not jobs:
        return []
    horizon = horizon_of(now, jobs, running)
    state = new_pass(now, horizon, Inputs(forecast, fallback), (capacity, running), options)
    return [_place(state, job) for job in order_of(jobs)]


def order_of(jobs: Sequence[PlanJob]) -> list[PlanJob]:
    """The order jobs are placed in: earliest deadline, then larger energy, then id."""
    return sorted(jobs, key=lambda j: (j.deadline, -j.energy_j, j.id))


def horizon_of(now: datetime, jobs: Sequence[PlanJob], running: Sequence[Running]) -> datetime:
    """How far a pass's signal and capacity reach at first (they grow on demand)."""
    return max(
        [max(j.deadline, max(now, j.earliest) + timedelta(seconds=j.duration_s)) for j in jobs]
        + [r.until for r in running]
    )


def new_pass(
    now: datetime,
    horizon: datetime,
    inputs: Inputs,
    gpus: tuple[int | None, Sequence[Running]],
    options: PlanOptions,
) -> _Pass:
    """A pass over one intensity signal and one capacity (`gpus`: lent, held)."""
    origin = _floor(now, options.step)
    signal = build_signal(origin, horizon, inputs.forecast, inputs.fallback, options.risk_quantile)
    capacity = _capacity(origin, horizon, gpus[0], gpus[1], options.step)
    return _Pass(now, inputs, signal, capacity, options)


def _capacity(
    origin: datetime,
    horizon: datetime,
    capacity: int | None,
    running: Sequence[Running],
    step: timedelta,
) -> Capacity | None:
    if capacity is None:
        return None
    slots = max(1, math.ceil((horizon - origin) / step))
    free = np.full(slots, capacity, dtype=np.int64)
    for r in running:
        begin = 0 if r.start is None else max(0, int((r.start - origin) / step))
        end = min(slots, math.ceil((r.until - origin) / step))
        if end > begin:
            free[begin:end] -= r.gpus
    return Capacity(step.total_seconds(), free, capacity)


def _floor(when: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=when.tzinfo)
    return when - (when - epoch) % step


@dataclass(frozen=True)
class Choice:
    """Where a job would go on one pass, before its GPUs are taken there."""

    placement: Placement
    segments: Segments
    """The placement's segments, seconds from the pass's origin."""
    reserve: bool
    """Whether its GPUs are taken (not for a job that needs more than the lab lends)."""


def _place(state: _Pass, job: PlanJob) -> Placement:
    found = choose(state, job)
    commit(state, job, found)
    return found.placement


def commit(state: _Pass, job: PlanJob, found: Choice) -> None:
    """Take the GPUs of `found` on the pass's capacity."""
    need = state.need(job)
    if need is not None and found.reserve:
        need.capacity.reserve(job.gpus, found.segments)


def choose(state: _Pass, job: PlanJob) -> Choice:
    """The job's placement on this pass (nothing reserved: see `commit`)."""
    options = state.options
    # a suspended job pays the resume overhead before it makes progress again
    overhead = options.resume_overhead.total_seconds() if job.resuming else 0.0
    length = job.duration_s + overhead
    lo = max(state.pos(state.now), state.pos(job.earliest), 0.0)
    deadline = state.pos(job.deadline)
    hi = deadline - length
    run_now = state.grams(job, ((lo, lo + length),))
    capacity = state.capacity
    if capacity is not None and job.gpus > capacity.capacity:
        unit = options.unit
        why = f"needs {job.gpus} {unit}s but the lab lends {capacity.capacity}; waiting for more"
        return _late(state, job, (lo, length, run_now), why, reserve=False)
    if hi < lo - SLACK_S:
        available = max(0.0, (job.deadline - max(state.now, job.earliest)).total_seconds())
        why = f"needs {_hours(job.duration_s)} but only {_hours(available)} remain"
        return _late(state, job, (lo, length, run_now), why + " before the deadline")
    need = state.need(job)
    best = cheapest_start(state.signal.intensity, length, lo, max(hi, lo), need)
    segments: Segments | None = None if best is None else ((best[0], best[0] + length),)
    if job.interruptible:
        rules = SplitRules(
            options.step.total_seconds(),
            options.min_segment.total_seconds(),
            options.resume_overhead.total_seconds(),
            job.resuming,
        )
        bound = None if best is None else best[1] * (1.0 - state.split_margin)
        split = best_split(
            state.signal.intensity, need, (lo, deadline), job.duration_s, rules, bound
        )
        if split is not None:
            segments = split[0]
    if segments is None:
        free = f"{job.gpus} free {options.unit}(s)"
        why = f"no {free} for {_hours(job.duration_s)} before the deadline"
        return _late(state, job, (lo, length, run_now), why)
    return Choice(_placement(state, job, segments, run_now), segments, True)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _late(
    state: _Pass,
    job: PlanJob,
    window: tuple[float, float, float],
    reason: str,
    reserve: bool = True,
) -> Choice:
    """Start as early as the capacity allows; `window` is (earliest, length, run-now g)."""
    lo, length, run_now = window
    need = state.need(job) if reserve else None
    start = lo if need is None else need.capacity.earliest_fit(job.gpus, lo, length)
    segments = ((start, start + length),)
    if start > lo + SLACK_S:
        reason += f"; starts {state.time(start):%Y-%m-%d %H:%M}"
    return Choice(_placement(state, job, segments, run_now, reason), segments, reserve)


def _placement(
    state: _Pass,
    job: PlanJob,
    segments: Sequence[tuple[float, float]],
    run_now: float,
    late_reason: str | None = None,
) -> Placement:
    times = tuple((state.time(a), state.time(b)) for a, b in segments)
    forecast = state.grams(job, segments)
    reason = late_reason
    if reason is None and forecast > run_now * (1 + 1e-9):
        # run-now ignores capacity: the greenest window is only ever dirtier when the
        # cleaner, earlier slots went to jobs planned before this one
        reason = "earlier starts are taken by other jobs"
    return Placement(
        job_id=job.id,
        start=times[0][0],
        end=times[-1][1],
        segments=times,
        forecast_g=forecast,
        run_now_g=run_now,
        late=late_reason is not None,
        reason=reason,
        fallback_share=state.fallback_share(segments),
        source=state.source,
    )
