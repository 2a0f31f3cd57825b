"""Backtests: the real planner, a simulated clock, a real trace.

Every `poll` the queue is re-planned with only the forecast known at that time (the
trace's forecast mode, issued at that moment, `horizon` long (a day-ahead column only as
far as it was published then, see grid/trace.py); beyond it a trailing 28-day hour-of-day
profile of the actuals already known); a job is also planned the
moment it is submitted. Jobs start when their plan says, interruptible ones run their
planned segment and are re-planned when it ends. Everything is accounted against the
ACTUAL trace. `oracle` is the same planner fed the actual intensities over the whole
trace; `run_now` starts every job at submission (no capacity limit, no waiting).
`simulate_where` is the same loop over several targets, each with its zone's trace and
its GPUs: the planner chooses where and when (or, with `homes`, only when), and each run
is accounted on the actual trace of the zone it ran in (scheduler/spatial.py compares).

A poll whose forecast brings nothing new for any waiting job (every deadline already
inside the last plan's horizon, a forecast that has not changed since: see
`TraceProvider.revision`, and the same day's trailing profile past its reach) is skipped:
the last plan stands, as it was made on the same numbers. Re-planning anyway
(`every_poll`) gives the same result for non-interruptible jobs without a capacity limit;
otherwise re-placing the queue around jobs that have started since can differ a little (a
test bounds it). It takes about three times as long.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from gridwait.clock import ManualClock
from gridwait.errors import TraceError
from gridwait.grid.corrector import CorrectorSettings
from gridwait.grid.series import IntensitySeries, StepFunction
from gridwait.grid.trace import Trace, TraceProvider
from gridwait.scheduler.planner import Placement, PlanJob, PlanOptions, Running, Site, plan_where
from gridwait.scheduler.workload import SimJob
from gridwait.units import J_PER_KWH

DAY = timedelta(days=1)
EPS = timedelta(seconds=1)
Progress = Callable[[datetime], None]


@dataclass(frozen=True)
class SimOptions:
    poll: timedelta = timedelta(minutes=30)
    capacity: int | None = None
    step: timedelta | None = None
    """Start-time granularity; default the trace's resolution (at least 5 minutes)."""
    min_segment: timedelta = timedelta(minutes=30)
    resume_overhead: timedelta = timedelta(minutes=2)
    horizon: timedelta = timedelta(hours=96)
    every_poll: bool = False
    corrector: CorrectorSettings = field(default_factory=CorrectorSettings)
    """For the `corrected:` forecast modes."""


@dataclass(frozen=True)
class SimTarget:
    """A launch target of a several-zone backtest: its zone's trace and its GPUs."""

    name: str
    trace: Trace
    capacity: int | None = None


@dataclass
class Outcome:
    job: SimJob
    segments: list[tuple[datetime, datetime]] = field(default_factory=list)
    grams: float = 0.0
    energy_j: float = 0.0
    late: bool = False
    """Marked late by a plan at some point."""
    target: str = ""
    """Where it ran (a suspended job resumes where its checkpoint is)."""

    @property
    def end(self) -> datetime | None:
        return self.segments[-1][1] if self.segments else None

    @property
    def missed(self) -> bool:
        return self.end is None or self.end > self.job.deadline + EPS


@dataclass
class _State:
    out: Outcome
    remaining_s: float
    placement: Placement | None = None
    running: tuple[datetime, datetime, float] | None = None
    """(start, end, overhead seconds paid at the start)"""
    promised: tuple[tuple[datetime, datetime], ...] = ()
    """Later segments of the plan the running segment came from, still held for it."""


class _Accountant:
    """gCO2eq of a constant power over any interval, against the actual trace (its gaps
    and anything past its end at its mean), through the one running integral."""

    def __init__(self, trace: Trace) -> None:
        self.start = trace.start
        mean = float(np.nanmean(trace.actual))
        values = np.nan_to_num(trace.actual, nan=mean)
        edges = np.arange(len(values) + 1, dtype=np.float64) * trace.resolution.total_seconds()
        self.intensity = StepFunction(edges, values, mean)

    def grams(self, power_w: float, a: datetime, b: datetime) -> float:
        offset = self.start
        seconds = (a - offset).total_seconds(), (b - offset).total_seconds()
        return power_w * self.intensity.integral(*seconds) / J_PER_KWH


class _TrailingProfile:
    """Hour-of-day means of the 28 days of actuals before a time: known then, no peeking."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._cache: dict[datetime, np.ndarray] = {}

    @staticmethod
    def day(now: datetime) -> datetime:
        """The profile known at `now` is the one of its day (the cache's key)."""
        return now.replace(hour=0, minute=0, second=0, microsecond=0)

    def series(self, now: datetime, end: datetime) -> IntensitySeries | None:
        day = self.day(now)
        means = self._cache.get(day)
        if means is None:
            lo = max(0, int(self.trace.index(day - 28 * DAY)))
            hi = max(0, int(self.trace.index(day)))
            if hi - lo < 24:
                return None
            chunk = self.trace.actual[lo:hi]
            hours = np.array(
                [(self.trace.start + self.trace.resolution * (lo + i)).hour for i in range(hi - lo)]
            )
            means = np.array([np.nanmean(chunk[hours == h]) for h in range(24)])
            self._cache[day] = means
        start = now.replace(minute=0, second=0, microsecond=0)
        n = max(1, math.ceil((end - start) / timedelta(hours=1)))
        values = np.array([means[(start + timedelta(hours=i)).hour] for i in range(n)])
        return IntensitySeries(
            "trace",
            "trailing-profile",
            self.trace.signal,
            "forecast",
            start,
            timedelta(hours=1),
            values,
            issued_at=now,
            note="hour-of-day means of the previous 28 days",
        )


def simulate(
    trace: Trace,
    jobs: Sequence[SimJob],
    mode: str,
    seed: int,
    options: SimOptions,
    oracle: bool = False,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Run the queue through the trace with the planner; one Outcome per job."""
    target = SimTarget(trace.name, trace, options.capacity)
    return simulate_where([target], jobs, mode, seed, options, oracle=oracle, progress=progress)


@dataclass
class _Zone:
    """What the simulation knows of one target's zone."""

    target: SimTarget
    provider: TraceProvider
    profile: _TrailingProfile | None
    accountant: _Accountant


def simulate_where(  # noqa: PLR0913  (the queue, the targets and how each job may move)
    targets: Sequence[SimTarget],
    jobs: Sequence[SimJob],
    mode: str,
    seed: int,
    options: SimOptions,
    *,
    homes: Mapping[str, str] | None = None,
    oracle: bool = False,
    progress: Progress | None = None,
) -> list[Outcome]:
    """Run the queue through the targets' traces with the planner choosing where and
    when; with `homes` (job id -> target name) each job stays at its home target (when
    only). One Outcome per job."""
    zones = {t.name: _zone(t, mode, seed, options, oracle) for t in targets}
    horizon = max(z.provider.horizon for z in zones.values())
    first = next(iter(zones.values())).target.trace
    step = options.step or max(first.resolution, timedelta(minutes=5))
    plan_options = PlanOptions(
        step,
        options.min_segment,
        options.resume_overhead,
        risk_quantile=options.corrector.risk_quantile,
    )
    clock = ManualClock(jobs[0].submit)
    states = {j.id: _State(Outcome(j), j.duration_s) for j in jobs}
    arrivals = sorted(jobs, key=lambda j: (j.submit, j.id))
    next_arrival, waiting, running = 0, set[str](), set[str]()
    next_poll = _ceil(clock.now(), options.poll)
    known_until = clock.now()
    revision = _revisions(zones, clock.now())
    while next_arrival < len(arrivals) or waiting or running:
        now = clock.now()
        replan = False
        for key in sorted(running):  # segments that have ended
            st = states[key]
            assert st.running is not None
            a, b, overhead = st.running
            if b <= now + EPS:
                _account(st, a, b, zones[st.out.target].accountant)
                st.remaining_s -= (b - a).total_seconds() - overhead
                st.running = None
                running.discard(key)
                if st.remaining_s > 1.0:
                    waiting.add(key)
                    replan = True
        while next_arrival < len(arrivals) and arrivals[next_arrival].submit <= now + EPS:
            waiting.add(arrivals[next_arrival].id)
            next_arrival += 1
            replan = True
        if now + EPS >= next_poll:
            needed = max((states[k].out.job.deadline for k in waiting), default=now)
            changed = revision is None or _revisions(zones, now) != revision
            replan = replan or options.every_poll or changed or needed > known_until
            next_poll = _ceil(now + EPS, options.poll)
        if replan and waiting:
            _replan(states, (waiting, running), now, zones, homes, options, plan_options)
            known_until = now + horizon
            revision = _revisions(zones, now)
        for key in sorted(waiting, key=lambda k: states[k].out.job.submit):  # due to start
            st = states[key]
            if st.placement is not None and st.placement.start <= now + EPS:
                _start(st, now, options)
                waiting.discard(key)
                running.add(key)
        if progress:
            progress(now)
        upcoming = [next_poll]
        if next_arrival < len(arrivals):
            upcoming.append(arrivals[next_arrival].submit)
        upcoming += [end for k in running for _, end, _ in _segment(states[k])]
        upcoming += [p.start for k in waiting if (p := states[k].placement) is not None]
        later = (
            min(t for t in upcoming if t > now + EPS / 2)
            if any(t > now + EPS / 2 for t in upcoming)
            else None
        )
        if later is None:
            raise TraceError("simulation stuck: no event ahead (a bug)")
        clock.set(later)
    return [states[j.id].out for j in jobs]


def _zone(target: SimTarget, mode: str, seed: int, options: SimOptions, oracle: bool) -> _Zone:
    trace = target.trace
    horizon = (trace.end - trace.start) if oracle else options.horizon
    provider = TraceProvider(
        trace, "perfect" if oracle else mode, seed, horizon, corrector=options.corrector
    )
    profile = None if oracle else _TrailingProfile(trace)
    return _Zone(target, provider, profile, _Accountant(trace))


def _revisions(zones: Mapping[str, _Zone], now: datetime) -> tuple[object, ...] | None:
    """What the forecasts known at `now` are (None: unknown, re-plan at every poll), with
    the day of the trailing profile that stands in past their reach (it moves at
    midnight, not only when a forecast does)."""
    seen = tuple(z.provider.revision(now) for z in zones.values())
    if any(r is None for r in seen):
        return None
    profiles = tuple(z.profile.day(now) for z in zones.values() if z.profile is not None)
    return seen + profiles


def _ceil(when: datetime, period: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=when.tzinfo)
    rest = (when - epoch) % period
    return when if not rest else when + (period - rest)


def _replan(
    states: dict[str, _State],
    queue: tuple[set[str], set[str]],
    now: datetime,
    zones: Mapping[str, _Zone],
    homes: Mapping[str, str] | None,
    options: SimOptions,
    plan_options: PlanOptions,
) -> None:
    waiting, running = queue
    ids = sorted(waiting)
    jobs = [
        PlanJob(
            n,
            states[k].remaining_s,
            states[k].out.job.power_w,
            states[k].out.job.gpus,
            max(now, states[k].out.job.submit),
            states[k].out.job.deadline,
            states[k].out.job.interruptible,
            resuming=bool(states[k].out.segments),
            targets=_allowed(states[k], homes),
        )
        for n, k in enumerate(ids)
    ]
    last = max(j.deadline + timedelta(seconds=j.duration_s) for j in jobs)
    sites = [
        Site(
            name,
            name,
            zone.provider.forecast("trace", now, now + options.horizon),
            zone.target.capacity,
            _busy(states, running, name),
            zone.profile.series(now, last) if zone.profile is not None else None,
        )
        for name, zone in zones.items()
    ]
    for p in plan_where(now, jobs, sites, plan_options):
        st = states[ids[p.job_id]]
        st.placement = p
        st.out.late = st.out.late or p.late


def _allowed(st: _State, homes: Mapping[str, str] | None) -> tuple[str, ...]:
    """A job that has run resumes where it ran; with homes, a job stays at home."""
    if st.out.target:
        return (st.out.target,)
    return (homes[st.out.job.id],) if homes is not None else ()


def _busy(states: dict[str, _State], running: set[str], target: str) -> list[Running]:
    here = [states[k] for k in running if states[k].out.target == target]
    busy = [Running(st.out.job.gpus, end) for st in here for _, end, _ in _segment(st)]
    busy += [Running(st.out.job.gpus, b, a) for st in here for a, b in st.promised]
    return busy


def _segment(st: _State) -> list[tuple[datetime, datetime, float]]:
    return [st.running] if st.running is not None else []


def _start(st: _State, now: datetime, options: SimOptions) -> None:
    job = st.out.job
    overhead = options.resume_overhead.total_seconds() if st.out.segments else 0.0
    st.promised = ()
    if job.interruptible and st.placement is not None:
        a, b = st.placement.segments[0]
        length = (b - a).total_seconds()
        st.promised = st.placement.segments[1:]
    else:
        length = st.remaining_s + overhead
    st.running = (now, now + timedelta(seconds=length), overhead)
    if st.placement is not None:
        st.out.target = st.placement.target
    st.placement = None


def _account(st: _State, a: datetime, b: datetime, accountant: _Accountant) -> None:
    st.out.segments.append((a, b))
    st.out.grams += accountant.grams(st.out.job.power_w, a, b)
    st.out.energy_j += st.out.job.power_w * (b - a).total_seconds()


def run_now(trace: Trace, jobs: Sequence[SimJob]) -> list[Outcome]:
    accountant = _Accountant(trace)
    out = []
    for job in jobs:
        end = job.submit + timedelta(seconds=job.duration_s)
        outcome = Outcome(job, [(job.submit, end)])
        outcome.grams = accountant.grams(job.power_w, job.submit, end)
        outcome.energy_j = job.power_w * job.duration_s
        out.append(outcome)
    return out


def fit_to_trace(
    trace: Trace, jobs: Sequence[SimJob], options: SimOptions
) -> tuple[list[SimJob], int]:
    """The jobs a trace can host: submitted after its start, due 12 h before its end (late
    jobs must still finish inside the data). Refuses jobs that can never get their GPUs."""
    if options.capacity is not None:
        for j in jobs:
            if j.gpus > options.capacity:
                raise TraceError(f"job {j.id} needs {j.gpus} GPUs but --gpus is {options.capacity}")
    last = trace.end - timedelta(hours=12)
    kept = [
        j
        for j in jobs
        if j.submit >= trace.start
        and j.deadline <= last
        and j.submit + timedelta(seconds=j.duration_s) <= last
    ]
    return kept, len(jobs) - len(kept)


def backtest(
    trace: Trace,
    jobs: Sequence[SimJob],
    mode: str,
    seed: int,
    options: SimOptions,
    per_job: bool = False,
    progress: Progress | None = None,
) -> dict[str, object]:
    started = time.perf_counter()
    kept, skipped = fit_to_trace(trace, jobs, options)
    if not kept:
        raise TraceError(
            f"no job falls inside the trace ({trace.start:%Y-%m-%d} to {trace.end:%Y-%m-%d})"
        )
    baseline = run_now(trace, kept)
    policy = simulate(trace, kept, mode, seed, options, progress=progress)
    oracle = simulate(trace, kept, mode, seed, options, oracle=True)
    g_now, g_policy, g_oracle = (sum(o.grams for o in x) for x in (baseline, policy, oracle))
    result: dict[str, object] = {
        "jobs": len(kept),
        "skipped_jobs": skipped,
        "trace": trace.name,
        "signal": trace.signal,
        "forecast": mode,
        "seed": seed,
        "capacity_gpus": options.capacity,
        "energy_kwh": sum(o.energy_j for o in policy) / J_PER_KWH,
        "emissions_g": {"run_now": g_now, "policy": g_policy, "oracle": g_oracle},
        "savings_pct": {
            "policy": 100 * (1 - g_policy / g_now),
            "oracle": 100 * (1 - g_oracle / g_now),
        },
        "share_of_oracle_saving_pct": 100 * (g_now - g_policy) / (g_now - g_oracle)
        if g_now > g_oracle
        else None,
        "deadline_misses": sum(o.missed for o in policy),
        "late_jobs": sum(o.late for o in policy),
        "runtime_s": round(time.perf_counter() - started, 3),
    }
    if per_job:
        result["per_job"] = [
            {
                "id": p.job.id,
                "submit": p.job.submit,
                "deadline": p.job.deadline,
                "start": p.segments[0][0] if p.segments else None,
                "end": p.end,
                "segments": len(p.segments),
                "energy_kwh": p.energy_j / J_PER_KWH,
                "run_now_g": b.grams,
                "policy_g": p.grams,
                "oracle_g": o.grams,
                "late": p.late,
                "missed_deadline": p.missed,
            }
            for p, b, o in zip(policy, baseline, oracle, strict=True)
        ]
    return result
