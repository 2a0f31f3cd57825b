"""The coming hours' carbon intensity and the greenest start for jobs of a few lengths."""

from __future__ import annotations

import math
from datetime import timedelta

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import ActualView, ForecastPoint, ForecastView, Greenest
from gridwait.config import ProviderName

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
    from gridwait.errors import ConfigError
    from gridwait.grid.factory import build_provider
    from gridwait.scheduler.windows import greenest_window

    del actor  # the lab's forecast is everyone's
    if not 1 <= hours <= MAX_HOURS:
        raise ConfigError(f"hours: expected 1 to {MAX_HOURS}, got {hours}")
    chain = (
        deps.provider()
        if provider is None
        else build_provider(deps.settings, deps.clock, deps.store(), provider)
    )
    zone = zone or deps.settings.grid.zone
    now = deps.clock.now()
    series = chain.forecast(zone, now, now + timedelta(hours=hours))
    greenest: dict[str, Greenest | None] = {}
    for h in JOB_HOURS:
        w = greenest_window(series, timedelta(hours=h), earliest=now)
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
    return ForecastView(
        provider=series.source,
        zone=series.zone,
        signal=series.signal,
        issued_at=series.issued_at,
        resolution_s=series.resolution_s,
        fallback=series.fallback,
        note=series.note,
        points=[
            ForecastPoint(start=t, value=None if math.isnan(v) else float(v))
            for t, v in zip(series.times(), series.values, strict=True)
        ],
        greenest=greenest,
    )


def recent(deps: Deps, actor: Actor, hours: int = 12) -> ActualView:
    """The actual intensity of the lab's zone over the past `hours` (the planning
    provider's actuals, with its fallbacks), to set beside the forecast."""
    from gridwait.errors import ConfigError

    del actor  # the lab's grid is everyone's
    if not 1 <= hours <= MAX_HOURS:
        raise ConfigError(f"hours: expected 1 to {MAX_HOURS}, got {hours}")
    now = deps.clock.now()
    series = deps.provider().actual(deps.settings.grid.zone, now - timedelta(hours=hours), now)
    return ActualView(
        provider=series.source,
        zone=series.zone,
        signal=series.signal,
        resolution_s=series.resolution_s,
        fallback=series.fallback,
        points=[
            ForecastPoint(start=t, value=None if math.isnan(v) else float(v))
            for t, v in zip(series.times(), series.values, strict=True)
        ],
    )
