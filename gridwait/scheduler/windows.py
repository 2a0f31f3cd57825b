"""The greenest window for a job of a given length: what `gridwait forecast` shows.

It is the planner's own answer for one job with no capacity limit (the same merged signal,
the same exact search over continuous start times, the same tie rule), so the command and
the planner cannot disagree. Gaps in the forecast are filled with its mean, as the planner
fills them, and the share of the window so filled is reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner import PlanJob, plan
from gridwait.units import J_PER_KWH

_POWER_W = 1000.0


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    mean_intensity: float
    """gCO2eq/kWh averaged over the window."""
    fallback_share: float = 0.0
    """Share of the window's time in a gap of the forecast (filled with its mean)."""


def greenest_window(
    series: IntensitySeries,
    duration: timedelta,
    earliest: datetime | None = None,
    latest_start: datetime | None = None,
) -> Window | None:
    """The start with the least integral of intensity over `duration` (ties go to the
    earliest start), from `earliest` (default: the series' start) to `latest_start`
    (default: the last start that ends with the series); None if no start is left.
    Before, after and between the forecast's periods its mean stands in (see the planner).
    ValueError for a duration that is not positive."""
    if duration <= timedelta(0):
        raise ValueError(f"a window needs a positive duration, not {duration}")
    first = earliest or series.start
    last = latest_start if latest_start is not None else series.end - duration
    if last < first - timedelta(microseconds=1) or not series.known():
        return None
    last = max(last, first)
    job = PlanJob(0, duration.total_seconds(), _POWER_W, 0, first, last + duration)
    [placement] = plan(first, [job], series, None)
    if placement.late:
        return None
    seconds = duration.total_seconds()
    mean = placement.forecast_g * J_PER_KWH / (_POWER_W * seconds)
    return Window(placement.start, placement.end, mean, placement.fallback_share)
