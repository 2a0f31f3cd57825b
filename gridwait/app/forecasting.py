"""The coming hours' carbon intensity and the greenest start for jobs of a few lengths."""

from __future__ import annotations

import math
from datetime import timedelta

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import ActualView, ForecastPoint, ForecastView, Greenest
from gridwait.config import ProviderName
from gridwait.errors import ConfigError
from gridwait.grid.series import IntensitySeries

JOB_HOURS = (1, 2, 4, 8)
MAX_HOURS = 168


def forecast(
    deps: Deps,
    actor: Actor,
    provider: ProviderName | None = None,
    zone: str | None = None,
    hours: int = 24,
) -> ForecastView:
    """The forecast of `zone` for the next `hours` (from the settings' provider chain, with
    its fallbacks) and where a 1, 2, 4 and 8 h job would start greenest."""
    from gridwait.grid.factory import build_provider
    from gridwait.grid.live_correction import correct_live
    from gridwait.scheduler.planner.signal import at_risk
    from gridwait.scheduler.windows import greenest_window

    del actor  # the lab's forecast is everyone's
    _check_hours(hours)
    chain = (
        deps.provider()
        if provider is None
        else build_provider(deps.settings, deps.clock, deps.store(), provider)
    )
    zone = zone or deps.settings.grid.zone
    now = deps.clock.now()
    series = chain.forecast(zone, now, now + timedelta(hours=hours))
    grid = deps.settings.grid
    corrected = (
        correct_live(deps.store(), chain, series, now, grid.forecast_correction)
        if grid.forecast_correction != "off"
        else series
    )
    planned = at_risk(corrected, grid.risk_quantile)  # what the planner would rank
    greenest: dict[str, Greenest | None] = {}
    for h in JOB_HOURS:
        w = greenest_window(planned, timedelta(hours=h), earliest=now)
        greenest[f"{h}h"] = (
            None
            if w is None
            else Greenest(
                start=w.start,
                end=w.end,
                mean_g_per_kwh=w.mean_intensity,
                gap_share=w.fallback_share,
            )
        )
    return _view(series, corrected, greenest, series.fallback, grid.risk_quantile)


def recent(deps: Deps, actor: Actor, hours: int = 12) -> ActualView:
    """The actual intensity of the lab's zone over the past `hours` (the planning
    provider's actuals, with its fallbacks), to set beside the forecast."""
    del actor  # the lab's grid is everyone's
    _check_hours(hours)
    now = deps.clock.now()
    series = deps.provider().actual(deps.settings.grid.zone, now - timedelta(hours=hours), now)
    return ActualView(
        provider=series.source,
        zone=series.zone,
        signal=series.signal,
        resolution_s=series.resolution_s,
        fallback=series.fallback,
        points=[
            ForecastPoint(start=t, value=_value(v))
            for t, v in zip(series.times(), series.values, strict=True)
        ],
    )


def stand_in(deps: Deps, actor: Actor, hours: int) -> ForecastView | None:
    """The built-in profile of the lab's zone over the next `hours`: what the planner plans
    on where the forecast has a gap or has ended (scheduler/queue_plan.py); None where no
    built-in profile stands for the zone."""
    from gridwait.errors import ProviderError
    from gridwait.grid.profile import ProfileProvider, profile_zone

    del actor  # the lab's grid is everyone's
    key = profile_zone(deps.settings.grid.zone)
    if key is None:
        return None
    now = deps.clock.now()
    try:
        series = ProfileProvider().forecast(key, now, now + timedelta(hours=hours))
    except ProviderError:  # the planner goes without it too
        return None
    return _view(series, series, {}, fallback=None)


def _check_hours(hours: int) -> None:
    if not 1 <= hours <= MAX_HOURS:
        raise ConfigError(f"hours: expected 1 to {MAX_HOURS}, got {hours}")


def _view(
    raw: IntensitySeries,
    corrected: IntensitySeries,
    greenest: dict[str, Greenest | None],
    fallback: str | None,
    risk_quantile: float | None = None,
) -> ForecastView:
    """`raw` as a view, beside its corrected values and band where a correction made them
    (the risk quantile is said only then)."""
    return ForecastView(
        provider=raw.source,
        zone=raw.zone,
        signal=raw.signal,
        issued_at=raw.issued_at,
        resolution_s=raw.resolution_s,
        fallback=fallback,
        note=raw.note,
        points=_points(raw, corrected),
        greenest=greenest,
        correction=corrected.correction,
        band=corrected.band,
        risk_quantile=risk_quantile if corrected.band else None,
    )


def _points(raw: IntensitySeries, corrected: IntensitySeries) -> list[ForecastPoint]:
    """The raw forecast per period, with the corrected one and its band where made."""
    if corrected.lower is None or corrected.upper is None:
        fixed = [(None, None, None)] * len(raw)
    else:
        fixed = list(zip(corrected.values, corrected.lower, corrected.upper, strict=True))
    return [
        ForecastPoint(
            start=t, value=_value(v), corrected=_value(c), lower=_value(lo), upper=_value(hi)
        )
        for t, v, (c, lo, hi) in zip(raw.times(), raw.values, fixed, strict=True)
    ]


def _value(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)
