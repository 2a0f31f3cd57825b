"""What a run emitted, what it was forecast to emit, and what it would have emitted had
the job started at submission; settled when actual intensities are published.

Emissions are the sum over sampling intervals of the facility energy of the interval x
the ACTUAL intensity over exactly that interval. Where actuals are not published yet (or
the provider failed) the forecast stands in and the figure is marked provisional; a
settle pass recomputes it later. The counterfactual moves the same energy profile to the
job's submission time (after the job's earlier segments, pauses removed).

Emissions are reported on one signal (`provider`); a job may have been planned on another
(`planning`, e.g. a marginal signal): its emissions on that one are stored beside them,
and the forecast emissions are the planning signal's. Embodied carbon and water are
computed here too (footprint.py) and never added into emissions_g.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gridwait.clock import Clock
from gridwait.config import FootprintSettings
from gridwait.errors import ProviderError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.chain import forecast_known_at
from gridwait.grid.profile import ProfileProvider, profile_zone
from gridwait.grid.series import IntensitySeries, SeriesError, fallback_tag
from gridwait.scheduler.emissions import Sample, integrate, shifted
from gridwait.scheduler.footprint import footprint_columns
from gridwait.store.engine import Store
from gridwait.store.models import EnergySample, Job, Run
from gridwait.store.runs import provisional_runs, runs_of, samples_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intensity:
    series: IntensitySeries
    source: str
    provisional: bool


def facility_samples(samples: Sequence[EnergySample], pue: float) -> list[Sample]:
    """(time, cumulative facility joules): IT energy of the measured components x PUE."""
    return [(s.at, ((s.gpu_j or 0.0) + (s.cpu_j or 0.0) + (s.ram_j or 0.0)) * pue) for s in samples]


def intensity_for(
    provider: IntensityProvider,
    zone: str,
    window: tuple[datetime, datetime],
    planned: IntensitySeries | None = None,
) -> Intensity | None:
    """Actual intensity over the window; where actuals are not out yet (the provider fell
    back to a stand-in or failed), the forecast the plan used (`planned`, stored), else
    the provider's forecast now, else the built-in profile: all three provisional."""
    start, end = window
    try:
        actual = provider.actual(zone, start, end)
        if actual.covers(start, end) and not actual.fallback:
            typical = actual.source == "profile"
            source = "profile (typical day, not measured)" if typical else f"actual {actual.source}"
            return Intensity(actual, source, False)
        fallback = actual if actual.covers(start, end) else None
    except ProviderError as exc:
        log.info("no actual intensity for %s yet: %s", zone, exc)
        fallback = None
    if planned is not None and planned.covers(start, end):
        issued = f" issued {planned.issued_at:%Y-%m-%d %H:%M}" if planned.issued_at else ""
        return Intensity(planned, f"stored forecast {planned.source}{issued} (provisional)", True)
    try:
        forecast = provider.forecast(zone, start, end)
        if forecast.covers(start, end) and not forecast.fallback:
            return Intensity(forecast, f"forecast {forecast.source} (provisional)", True)
    except ProviderError as exc:
        log.info("no forecast for %s: %s", zone, exc)
    if fallback is not None:
        label = f"{fallback.source} {fallback_tag(fallback.fallback or 'no reason given')}"
        return Intensity(fallback, label, True)
    key = profile_zone(zone)
    if key is None:
        return None
    profile = ProfileProvider().actual(key, start, end)
    return Intensity(profile, "built-in profile (provisional)", True)


def _grams(samples: list[Sample], intensity: Intensity | None) -> float | None:
    if intensity is None or len(samples) < 2:
        return None
    try:
        value = integrate(samples, intensity.series)
    except (SeriesError, ValueError) as exc:  # stays provisional; `settle` tries again
        log.warning("cannot integrate %s over the run: %s", intensity.source or "the forecast", exc)
        return None
    return None if math.isnan(value) else value


def account(
    store: Store,
    provider: IntensityProvider,
    zone: str,
    clock: Clock,
    run_id: int,
    *,
    planning: IntensityProvider | None = None,
    footprint: FootprintSettings | None = None,
) -> Run:
    """Compute and store the run's emissions (on `provider`, the signal reported), forecast
    emissions and emissions on the signal planned on (`planning`, when another), the
    counterfactual and saving, embodied carbon and water."""
    with store.read() as session:
        run = session.get(Run, run_id)
        assert run is not None
        job = session.get(Job, run.job_id)
        assert job is not None
        earlier = [r for r in runs_of(session, job.id or 0) if (r.id or 0) < run_id]
        rows = samples_of(session, run_id)
    zone = run.zone or zone  # where it really ran (several targets), else the caller's
    samples = facility_samples(rows, run.pue or 1.0)
    values: dict[str, object] = {"accounted_at": clock.now()}
    values.update(footprint_columns(run, job.gpus, zone, footprint or FootprintSettings()))
    plan = planning if planning is not None and planning.name != provider.name else None
    if len(samples) >= 2 and samples[-1][1] > 0:
        offset = sum((_span(store, r.id or 0) for r in earlier), timedelta(0))
        begin = job.submitted_at + offset  # had it started at submission
        values.update(_operational(store, provider, plan, zone, run_id, samples, begin))
    else:
        values.update(
            emissions_g=0.0 if samples else None,
            emissions_provisional=False,
            intensity_source="no energy measured",
            planning_g=None,
            planning_source=None,
        )
    with store.write() as session:
        row = session.get(Run, run_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)
    return row


def _operational(
    store: Store,
    provider: IntensityProvider,
    plan: IntensityProvider | None,
    zone: str,
    run_id: int,
    samples: list[Sample],
    counter_start: datetime,
) -> dict[str, object]:
    """The emissions columns: reported on `provider`; forecast (and, where `plan` is another
    signal, emitted) on the signal the job was planned on."""
    planner = plan or provider
    start, end = samples[0][0], samples[-1][0]
    forecast = forecast_known_at(store, planner.name, zone, start, start)
    window = (start, max(end, start + timedelta(seconds=1)))
    # a stored forecast may stand in for missing actuals only on its own signal
    actual = intensity_for(provider, zone, window, forecast if plan is None else None)
    emitted = _grams(samples, actual)
    if forecast is None or not forecast.covers(start, end):
        try:
            forecast = planner.forecast(zone, start, end)
        except ProviderError as exc:  # the run's forecast emissions stay unknown
            log.info("no forecast for run %d's window: %s", run_id, exc)
            forecast = None
    planned = _grams(samples, Intensity(forecast, "", True)) if forecast is not None else None
    moved = shifted(samples, counter_start)
    span = (moved[0][0], max(moved[-1][0], moved[0][0] + timedelta(seconds=1)))
    counterfactual = _grams(moved, intensity_for(provider, zone, span))
    on_plan = intensity_for(plan, zone, window, forecast) if plan is not None else None
    return {
        "emissions_g": emitted,
        "emissions_provisional": emitted is None or (actual is not None and actual.provisional),
        "intensity_source": actual.source if actual is not None else "no intensity for this zone",
        "forecast_g": planned,
        "counterfactual_g": counterfactual,
        "saving_g": None if emitted is None or counterfactual is None else counterfactual - emitted,
        "planning_g": _grams(samples, on_plan) if plan is not None else None,
        "planning_source": on_plan.source if on_plan is not None else None,
    }


def _span(store: Store, run_id: int) -> timedelta:
    with store.read() as session:
        rows = samples_of(session, run_id)
    return rows[-1].at - rows[0].at if len(rows) >= 2 else timedelta(0)


def settle(
    store: Store,
    provider: IntensityProvider,
    zone: str,
    clock: Clock,
    *,
    planning: IntensityProvider | None = None,
    footprint: FootprintSettings | None = None,
    only: Callable[[Run], bool] | None = None,
) -> tuple[int, int]:
    """Recompute provisional runs (`only` those it accepts: one zone's, where runs ran in
    several); returns (settled now, still provisional)."""
    with store.read() as session:
        pending = [
            r.id
            for r in provisional_runs(session)
            if r.id is not None and (only is None or only(r))
        ]
    settled = 0
    for run_id in pending:
        row = account(store, provider, zone, clock, run_id, planning=planning, footprint=footprint)
        if not row.emissions_provisional:
            settled += 1
    return settled, len(pending) - settled
