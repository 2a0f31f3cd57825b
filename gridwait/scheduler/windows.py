"""Exact window integrals over piecewise-constant intensity, vectorised.

A job of length L started at s costs the integral of intensity over [s, s + L). With
intensity constant inside each period, that cost is linear in s between period
boundaries and boundaries minus L, so the minimum over those candidates is the exact
minimum over every start time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridwait.grid.series import FloatArray, IntensitySeries


def cumulative_at(
    cum: FloatArray, values: FloatArray, step_s: float, pos: FloatArray
) -> FloatArray:
    """F at fractional period positions `pos` (0 = series start), F in (g/kWh) x s."""
    n = len(values)
    index = np.clip(np.floor(pos).astype(np.int64), 0, n - 1)
    return cum[index] + (pos - index) * values[index] * step_s


def candidate_positions(n: int, length: float, lo: float, hi: float) -> FloatArray:
    """Period boundaries and boundaries minus `length`, inside [lo, hi], sorted, unique."""
    bounds = np.arange(n + 1, dtype=np.float64)
    cand = np.concatenate((bounds, bounds - length, np.array([lo, hi])))
    cand = cand[(cand >= lo - 1e-9) & (cand <= hi + 1e-9)]
    return np.unique(np.clip(cand, lo, hi))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    mean_intensity: float
    """gCO2eq/kWh averaged over the window."""


def greenest_window(
    series: IntensitySeries,
    duration: timedelta,
    earliest: datetime | None = None,
    latest_start: datetime | None = None,
) -> Window | None:
    """The start with the least integral of intensity over `duration`, within the series
    (ties go to the earliest start); None if the series is shorter than `duration`."""
    values = series.values
    if np.isnan(values).any():
        values = np.where(np.isnan(values), np.inf, values)
    step = series.resolution_s
    length = duration.total_seconds() / step
    lo = max(0.0, series.position(earliest) if earliest else 0.0)
    hi = len(values) - length
    if latest_start is not None:
        hi = min(hi, series.position(latest_start))
    if hi < lo - 1e-9:
        return None
    cum = np.zeros(len(values) + 1)
    np.cumsum(values * step, out=cum[1:])
    pos = candidate_positions(len(values), length, lo, hi)
    costs: npt.NDArray[np.float64] = cumulative_at(cum, values, step, pos + length) - cumulative_at(
        cum, values, step, pos
    )
    best = int(np.argmin(costs))
    if not np.isfinite(costs[best]):
        return None
    start = series.start + timedelta(seconds=float(pos[best]) * step)
    return Window(start, start + duration, float(costs[best]) / duration.total_seconds())
