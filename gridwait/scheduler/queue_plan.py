"""One planning pass over the stored queue: read the jobs, ask the provider, place them
with the pure planner (`planner`), hold what would break a budget, and (when applying)
write the plan back.

Used by the `plan` use case (a dry run) and by the service on every poll and change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from gridwait.clock import Clock
from gridwait.config import Settings, TargetSettings
from gridwait.errors import ProviderError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.live_correction import correct_live
from gridwait.grid.profile import ProfileProvider, profile_zone
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.budgets import Candidate, Ledger, Limit, check, month_bounds, month_of
from gridwait.scheduler.footprint import planned_rate
from gridwait.scheduler.planner import Placement, PlanJob, PlanOptions, Running, Site, plan_where
from gridwait.scheduler.planner.signal import band_at
from gridwait.states import JobState
from gridwait.store.budgets import EmbodiedRate, budgets, month_usage
from gridwait.store.engine import Store
from gridwait.store.jobs import get_job, jobs_in, plan_segments, transition
from gridwait.store.models import Job
from gridwait.store.runs import progress_of
from gridwait.units import format_duration

log = logging.getLogger(__name__)
PLANNABLE = (JobState.QUEUED, JobState.HELD, JobState.PLANNED, JobState.SUSPENDED)
DEFAULT_SECONDS = 3600.0  # a job without an estimate is planned as an hour


@dataclass
class PlanReport:
    now: datetime
    placements: list[Placement]
    held: dict[int, str]
    jobs: dict[int, Job]
    forecast: IntensitySeries
    """The first target's zone's forecast (the only one, with a single target)."""
    notes: list[str] = field(default_factory=list)
    several: bool = False
    """Several launch targets: each placement names its target, zone and why."""
    forecasts: dict[str, IntensitySeries] = field(default_factory=dict)
    """Each target zone's forecast, as planned on (raw or corrected)."""


def options(settings: Settings) -> PlanOptions:
    s = settings.scheduler
    return PlanOptions(
        step=timedelta(minutes=s.step_minutes),
        min_segment=timedelta(minutes=s.min_segment_minutes),
        resume_overhead=timedelta(minutes=s.resume_overhead_minutes),
        split_margin=s.split_margin,
        risk_quantile=settings.grid.risk_quantile,
    )


def plan_job(
    job: Job,
    now: datetime,
    factor: float,
    done_fraction: float = 0.0,
    targets: tuple[str, ...] = (),
) -> PlanJob:
    """The planner's view of a job. Durations are domain seconds: on a simulated clock a
    real second of running lasts `factor` domain seconds."""
    assert job.id is not None
    seconds = (job.est_seconds or DEFAULT_SECONDS) * factor * max(0.0, 1.0 - done_fraction)
    energy = job.est_energy_j or 0.0
    power = energy / ((job.est_seconds or DEFAULT_SECONDS) * factor) if energy else 0.0
    return PlanJob(
        id=job.id,
        duration_s=max(seconds, 1.0),
        power_w=power,
        gpus=job.gpus,
        earliest=max(job.earliest_start, now),
        deadline=job.deadline,
        interruptible=job.interruptible,
        resuming=done_fraction > 0,
        targets=targets,
    )


def plan_queue(
    store: Store,
    settings: Settings,
    clock: Clock,
    provider: IntensityProvider,
    apply: bool = False,
    zones: Mapping[str, IntensityProvider] | None = None,
) -> PlanReport:
    """`zones`: the provider of each target's zone (default: `provider` for all, each
    target with a trace of its own getting its own: grid.factory.zone_providers)."""
    now = clock.now()
    targets = settings.launch_targets()
    if zones is None:
        from gridwait.grid.factory import zone_providers

        zones = zone_providers(settings, clock, store, provider)
    with store.read() as session:
        waiting = list(jobs_in(session, PLANNABLE))
        running = list(jobs_in(session, (JobState.RUNNING,)))
        done = {
            j.id: progress_of(session, j.id)
            for j in waiting
            if j.id is not None and j.state == JobState.SUSPENDED
        }
        limits = [Limit(b.scope, b.name, b.monthly_g, b.counts) for b in budgets(session)]
    jobs = {j.id: j for j in waiting if j.id is not None}
    names = {t.name for t in targets}
    planned = [
        plan_job(j, now, clock.factor, done.get(i, 0.0), _pinned(j, names)) for i, j in jobs.items()
    ]
    horizon = timedelta(hours=settings.grid.horizon_hours)
    last = max([now + horizon, *(p.deadline + timedelta(seconds=p.duration_s) for p in planned)])
    forecasts: dict[str, IntensitySeries] = {}
    for zone in dict.fromkeys(t.zone for t in targets):
        forecasts[zone] = zones[zone].forecast(zone, now, now + horizon)
        if settings.grid.forecast_correction != "off":
            method = settings.grid.forecast_correction
            forecasts[zone] = correct_live(store, zones[zone], forecasts[zone], now, method)
    fallbacks = {zone: _fallback(zone, now, last) for zone in forecasts}
    held: dict[int, str] = {}
    step = timedelta(minutes=settings.scheduler.step_minutes)
    busy = [(_running(j, now, clock.factor, step), j) for j in running]

    def sites(target: TargetSettings, cpu: bool) -> Site:
        here = [
            r for r, j in busy if _target_of(j, targets) == target.name and (j.gpus == 0) == cpu
        ]
        return Site(
            target.name,
            target.zone,
            forecasts[target.zone],
            settings.scheduler.cpu_slots if cpu else target.gpus,
            [replace(r, gpus=1) for r in here] if cpu else here,
            fallbacks[target.zone],
        )

    def place(queue: list[PlanJob]) -> list[Placement]:
        # GPU jobs and CPU-only jobs draw on separate capacities: GPUs, and CPU slots
        # (CPU fine-tunes sharing a host slow each other down far more than they gain)
        gpu = [p for p in queue if p.gpus > 0]
        cpu = [replace(p, gpus=1) for p in queue if p.gpus == 0]
        return plan_where(
            now, gpu, [sites(t, False) for t in targets], options(settings)
        ) + plan_where(
            now,
            cpu,
            [sites(t, True) for t in targets],
            replace(options(settings), unit="CPU slot"),
        )

    placements = place(planned)
    if limits and placements:
        rate = planned_rate(settings.footprint, settings.hardware)
        # a job planned on a target is charged that target's GPUs' embodied carbon
        rates = {
            t.name: planned_rate(settings.footprint, t.hardware) if t.hardware else rate
            for t in targets
        }
        held = _over_budget(store, placements, jobs, limits, now, (rate, rates))
        if held:
            placements = place([p for p in planned if p.id not in held])
    forecast = forecasts[targets[0].zone]
    report = PlanReport(
        now, placements, held, jobs, forecast, several=len(targets) > 1, forecasts=forecasts
    )
    for zone, series in forecasts.items():
        if series.fallback:
            where = f" ({zone})" if len(forecasts) > 1 else ""
            report.notes.append(f"forecast fallback{where}: {series.fallback}")
    for series in forecasts.values():
        if series.correction and series.band is None:  # asked for, not possible yet
            report.notes.append(series.correction)
    if clock.factor != 1 and planned:
        report.notes.append(_stretched(clock.factor))
    if apply:
        write_plan(store, report)
    return report


def _pinned(job: Job, names: set[str]) -> tuple[str, ...]:
    """A suspended job resumes on the target that holds its checkpoint."""
    if job.state == JobState.SUSPENDED and job.plan_target in names:
        assert job.plan_target is not None
        return (job.plan_target,)
    return ()


def _target_of(job: Job, targets: Sequence[TargetSettings]) -> str:
    """The target a running job holds GPUs on (a plan from before targets: the first)."""
    names = {t.name for t in targets}
    return job.plan_target if job.plan_target in names else targets[0].name


def _stretched(factor: float) -> str:
    """Workers run in real time while a simulated clock runs `factor` times faster, so
    each real second of work fills `factor` domain seconds: planning a job by its real
    duration would let it overrun its window and its neighbours' GPUs."""
    return (
        f"simulated clock x{factor:g}: every job's run time is stretched {factor:g} times"
        f" in clock time (a worker runs in real time), e.g. 10 s of work fills"
        f" {format_duration(10 * factor)} of the plan"
    )


def _fallback(zone: str, start: datetime, end: datetime) -> IntensitySeries | None:
    key = profile_zone(zone)
    if key is None:
        return None
    try:
        return ProfileProvider().forecast(key, start, end)
    except ProviderError as exc:  # plan on the forecast alone; the plan's source says so
        log.info("no profile fallback for %s: %s", zone, exc)
        return None


def _running(job: Job, now: datetime, factor: float, step: timedelta) -> Running:
    """Capacity a running job holds: until its planned end, or a step past now if it
    overruns (so the next job is planned after it, and re-planned if it overruns again).
    An interruptible job holds it only until its running segment ends: it is suspended
    then and re-planned, so the gaps and later segments of its plan stay free for others."""
    end = job.planned_end or now + timedelta(seconds=(job.est_seconds or DEFAULT_SECONDS) * factor)
    segments = plan_segments(job)
    if job.interruptible and len(segments) > 1:
        end = segments[0][1]
    return Running(job.gpus, max(end, now + step))


def _over_budget(
    store: Store,
    placements: Sequence[Placement],
    jobs: dict[int, Job],
    limits: list[Limit],
    now: datetime,
    rated: tuple[EmbodiedRate, Mapping[str, EmbodiedRate]],
) -> dict[int, str]:
    """Jobs to hold; `rated`: the embodied gCO2e per hour of a job by its GPUs, in
    general and on each target."""
    rate, per_target = rated
    ledger = Ledger()
    months = sorted({month_of(p.start) for p in placements})
    replanning = frozenset(jobs)
    with store.read() as session:
        for month in months:
            start, end = month_bounds(datetime.strptime(month, "%Y-%m").replace(tzinfo=now.tzinfo))
            ledger.add_month(month, month_usage(session, start, end, rate), replanning)
    candidates = [
        Candidate(
            p.job_id,
            jobs[p.job_id].owner,
            jobs[p.job_id].project,
            month_of(p.start),
            p.forecast_g,
            per_target.get(p.target, rate)(jobs[p.job_id].gpus)
            * (jobs[p.job_id].est_seconds or 0.0)
            / 3600,
        )
        for p in placements
    ]
    return check(candidates, limits, ledger)


def _forecast_used(forecast: IntensitySeries, start: datetime, end: datetime) -> str:
    """Which forecast a window was chosen on, for the job's events: where a correction
    was asked for, the corrected one and its band at the window, or the raw one and why."""
    if not forecast.correction:
        return ""
    band = band_at(forecast, start, end)
    return f", {forecast.correction}" + ("" if band is None else f", {band}")


def write_plan(store: Store, report: PlanReport) -> None:
    """Store each placement on its job (moving it to planned) and hold the held ones."""
    now = report.now
    with store.write() as session:
        for p in report.placements:
            job = get_job(session, p.job_id)
            if job.state not in PLANNABLE:
                continue  # changed under us (cancelled, started): leave it
            job.planned_at, job.planned_start, job.planned_end = now, p.start, p.end
            job.plan_segments_json = json.dumps(
                [[a.isoformat(), b.isoformat()] for a, b in p.segments]
            )
            job.plan_forecast_g, job.plan_run_now_g = p.forecast_g, p.run_now_g
            job.plan_source, job.plan_late = p.source, p.late
            job.plan_target, job.plan_zone, job.plan_where = p.target, p.zone, p.where
            reason = f"window {p.start:%Y-%m-%d %H:%M} to {p.end:%H:%M} UTC"
            reason += _forecast_used(
                report.forecasts.get(p.zone or "", report.forecast), p.start, p.end
            )
            if report.several:
                reason += f" on {p.target} ({p.zone})"
            if p.reason:
                reason = p.reason if p.late else f"{reason}: {p.reason}"
            if p.where:
                reason += f"; {p.where}"
            if job.state != JobState.PLANNED:
                transition(session, job, JobState.PLANNED, now, reason)
            else:
                job.state_reason = reason
                session.add(job)
        for job_id, reason in report.held.items():
            job = get_job(session, job_id)
            if job.state == JobState.HELD:
                job.state_reason = reason
                session.add(job)
            elif job.state in PLANNABLE:
                transition(session, job, JobState.HELD, now, reason)
