"""The planning signal: ONE piecewise-constant intensity built from the forecast where it
has a value, else the fallback (the built-in profile), else the forecast's mean, with a
breakpoint wherever any of them changes. Nothing is averaged onto a grid: the planner, the
`forecast` command and the fallback share all integrate this function exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from gridwait.grid.series import FloatArray, IntensitySeries, StepFunction, fallback_tag


@dataclass(frozen=True)
class Signal:
    """Positions are seconds from `origin`."""

    origin: datetime
    end_s: float
    """The merged pieces reach this far; beyond it: `intensity.tail`, as a fallback."""
    intensity: StepFunction
    fallback: StepFunction
    """1 where the intensity did not come from the forecast, else 0: its integral is the
    fallback time of a window, s."""
    any_fallback: bool
    """Whether any piece before `end_s` came from a fallback."""


def build_signal(
    origin: datetime,
    end: datetime,
    forecast: IntensitySeries,
    fallback: IntensitySeries | None = None,
) -> Signal:
    """The merged signal over [origin, end); beyond `end` the fallback's mean (else the
    forecast's mean, else 0), marked as fallback."""
    end_s = max((end - origin).total_seconds(), 1.0)
    extend = float(np.nanmean(forecast.values)) if forecast.known() else 0.0
    parts = [_edges(forecast, origin, end_s)]
    if fallback is not None and fallback.known():
        extend = float(np.nanmean(fallback.values))
        parts.append(_edges(fallback, origin, end_s))
    edges = np.unique(np.concatenate([*parts, [0.0, end_s]]))
    mids = (edges[:-1] + edges[1:]) / 2
    values = _lookup(forecast, origin, mids)
    is_fallback = np.isnan(values)
    if fallback is not None and fallback.known() and is_fallback.any():
        values[is_fallback] = _lookup(fallback, origin, mids[is_fallback])
    values[np.isnan(values)] = extend
    return Signal(
        origin,
        end_s,
        StepFunction(edges, values, extend),
        StepFunction(edges, is_fallback.astype(np.float64), 1.0),
        bool(is_fallback.any()),
    )


def _edges(series: IntensitySeries, origin: datetime, end_s: float) -> FloatArray:
    """The series' period boundaries inside [0, end_s], seconds from `origin` (to the
    microsecond, so that boundaries shared by two series merge)."""
    offset, step = (series.start - origin).total_seconds(), series.resolution_s
    first = max(0, int(np.ceil(-offset / step)))
    last = min(len(series.values), int(np.floor((end_s - offset) / step)))
    if last < first:
        return np.empty(0)
    result: FloatArray = np.round(offset + np.arange(first, last + 1) * step, 6)
    return result


def _lookup(series: IntensitySeries, origin: datetime, at: FloatArray) -> FloatArray:
    """The series' value at positions `at` (seconds from `origin`); NaN outside or in a gap."""
    offset, step = (series.start - origin).total_seconds(), series.resolution_s
    index = np.floor((at - offset) / step).astype(np.int64)
    inside = (index >= 0) & (index < len(series.values))
    out = np.full(len(at), np.nan)
    out[inside] = series.values[index[inside]]
    return out


def describe(forecast: IntensitySeries, fallback: IntensitySeries | None) -> str:
    """Where the numbers come from, for the placement's `source`."""
    text = f"{forecast.kind} {forecast.source}"
    if forecast.issued_at is not None:
        text += f" issued {forecast.issued_at:%Y-%m-%d %H:%M}"
    if forecast.fallback:
        text += f" {fallback_tag(forecast.fallback)}"
    if forecast.lower is not None and forecast.upper is not None and len(forecast):
        # a corrected forecast: the plan says so, and how wide its band was
        width = float(np.nanmean(forecast.upper - forecast.lower))
        text += f", corrected from its own errors, band {width:.0f} gCO2eq/kWh wide on average"
    text += f"; beyond {forecast.end:%Y-%m-%d %H:%M}: "
    text += (
        f"{fallback.source} {fallback.note or ''}".strip()
        if fallback is not None
        else "the forecast's mean"
    )
    return text
