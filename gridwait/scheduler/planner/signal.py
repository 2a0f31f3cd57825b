"""The planning signal: ONE piecewise-constant intensity built from the forecast where it
has a value, else the fallback (the built-in profile), else the forecast's mean, with a
breakpoint wherever any of them changes. Nothing is averaged onto a grid: the planner, the
`forecast` command and the fallback share all integrate this function exactly.

The risk rule: a forecast with a band (a corrected one) is planned on the `risk_quantile`
of each period's distribution, not on its median. The band widens with the lead, so above
0.5 a later window looks dirtier by more than an earlier one: a job defers only when the
later window's saving at the median exceeds the extra pessimism its wider band costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
    risk_quantile: float = 0.5,
) -> Signal:
    """The merged signal over [origin, end); beyond `end` the fallback's mean (else the
    forecast's mean, else 0), marked as fallback. A forecast with a band is planned on its
    `risk_quantile` (see `at_risk`)."""
    forecast = at_risk(forecast, risk_quantile)
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


def at_risk(forecast: IntensitySeries, risk_quantile: float) -> IntensitySeries:
    """`forecast` with each value moved to quantile `risk_quantile` of its period's
    distribution: linearly between the median (`values`) and the band's edge at
    (1 +- band) / 2, held at the edge beyond it. Unchanged without a band or at 0.5."""
    if forecast.lower is None or forecast.upper is None or not forecast.band:
        return forecast
    edge = (1 + forecast.band) / 2
    w = (min(max(risk_quantile, 1 - edge), edge) - 0.5) / (edge - 0.5)
    if w == 0:
        return forecast
    toward = forecast.upper if w > 0 else forecast.lower
    values = forecast.values + abs(w) * (toward - forecast.values)
    return replace(forecast, values=values)


def band_at(forecast: IntensitySeries, start: datetime, end: datetime) -> str | None:
    """The band's mean half-width over [start, end), as the plan's events state it."""
    if forecast.lower is None or forecast.upper is None or not forecast.band or end <= start:
        return None
    lo = max(0, math.floor(forecast.position(start)))
    hi = min(len(forecast), math.ceil(forecast.position(end)))
    if hi <= lo:
        return None
    half = float(np.nanmean(forecast.upper[lo:hi] - forecast.lower[lo:hi])) / 2
    low, high = (1 - forecast.band) / 2, (1 + forecast.band) / 2
    return f"{low:.0%}-{high:.0%} band ±{half:.0f} gCO2eq/kWh at the window"


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


def describe(
    forecast: IntensitySeries, fallback: IntensitySeries | None, risk_quantile: float = 0.5
) -> str:
    """Where the numbers come from, for the placement's `source`: which forecast (raw or
    corrected, and why raw where a correction was asked for) and what band it carried."""
    text = f"{forecast.kind} {forecast.source}"
    if forecast.issued_at is not None:
        text += f" issued {forecast.issued_at:%Y-%m-%d %H:%M}"
    if forecast.fallback:
        text += f" {fallback_tag(forecast.fallback)}"
    if forecast.correction:
        text += f", {forecast.correction}"
    if forecast.lower is not None and forecast.upper is not None and len(forecast):
        width = float(np.nanmean(forecast.upper - forecast.lower))
        if not forecast.correction:
            text += ", corrected from its own errors"
        text += f", band {width:.0f} gCO2eq/kWh wide on average"
        if forecast.band:
            text += f" ({forecast.band:.0%} central), planned at its {risk_quantile:.0%} quantile"
    text += f"; beyond {forecast.end:%Y-%m-%d %H:%M}: "
    text += (
        f"{fallback.source} {fallback.note or ''}".strip()
        if fallback is not None
        else "the forecast's mean"
    )
    return text
