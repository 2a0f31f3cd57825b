"""`IntensitySeries`: carbon intensity on a regular time grid.

Value i covers the period [start + i x resolution, start + (i + 1) x resolution) and is
the average intensity over it, in gCO2eq/kWh. NaN marks a period with no data. Integrals
are exact over partial periods: intensity is constant inside a period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Literal

import numpy as np
import numpy.typing as npt

Signal = Literal["average", "marginal"]
Kind = Literal["forecast", "actual"]
FloatArray = npt.NDArray[np.float64]


class SeriesError(ValueError):
    """Points that do not form a valid series (providers turn this into ProviderDataError)."""


@dataclass(frozen=True, eq=False)
class IntensitySeries:
    zone: str
    source: str
    """The provider that produced the numbers (electricitymaps, uk, watttime, trace, profile)."""
    signal: Signal
    kind: Kind
    start: datetime
    resolution: timedelta
    values: FloatArray
    """gCO2eq/kWh per period; NaN where the provider had nothing."""
    issued_at: datetime | None = None
    """When the forecast was made (forecasts only)."""
    fallback: str | None = None
    """Why this series stands in for the one asked for; None for a first-hand answer."""
    note: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise SeriesError("series start has no time zone")
        if self.resolution <= timedelta(0):
            raise SeriesError("series resolution must be positive")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def end(self) -> datetime:
        return self.start + self.resolution * len(self.values)

    @property
    def resolution_s(self) -> float:
        return self.resolution.total_seconds()

    def times(self) -> list[datetime]:
        return [self.start + self.resolution * i for i in range(len(self.values))]

    def known(self) -> int:
        """Number of periods with data."""
        return int(np.count_nonzero(~np.isnan(self.values)))

    def position(self, when: datetime) -> float:
        """`when` in periods from the start (fractional)."""
        return (when - self.start).total_seconds() / self.resolution_s

    def covers(self, start: datetime, end: datetime) -> bool:
        """True if every period touching [start, end) has data."""
        if start < self.start or end > self.end:
            return False
        lo, hi = self._index_range(start, end)
        return not bool(np.isnan(self.values[lo:hi]).any())

    def _index_range(self, start: datetime, end: datetime) -> tuple[int, int]:
        lo = max(0, math.floor(self.position(start)))
        hi = min(len(self.values), math.ceil(self.position(end)))
        return lo, hi

    def slice(self, start: datetime, end: datetime) -> IntensitySeries:
        """The periods touching [start, end)."""
        lo, hi = self._index_range(start, end)
        hi = max(hi, lo)
        return replace(
            self, start=self.start + self.resolution * lo, values=self.values[lo:hi].copy()
        )

    def integral(self, start: datetime, end: datetime) -> float:
        """Integral of intensity over [start, end), in (gCO2eq/kWh) x seconds.

        Multiply by a constant power in kW and divide by 3600 to get gCO2eq. NaN if any
        touched period has no data; SeriesError outside the series.
        """
        if end < start:
            raise SeriesError("integral: end before start")
        if start < self.start or end > self.end:
            raise SeriesError(
                f"integral: [{start.isoformat()}, {end.isoformat()}) is outside the series"
                f" [{self.start.isoformat()}, {self.end.isoformat()})"
            )
        lo, hi = self._index_range(start, end)
        if hi > lo and self._nan_count[hi] - self._nan_count[lo] > 0:
            return math.nan
        return self._cumulative_at(self.position(end)) - self._cumulative_at(self.position(start))

    def mean(self, start: datetime, end: datetime) -> float:
        seconds = (end - start).total_seconds()
        if seconds <= 0:
            lo = min(len(self.values) - 1, math.floor(self.position(start)))
            return float(self.values[lo])
        return self.integral(start, end) / seconds

    @cached_property
    def cumulative(self) -> FloatArray:
        """F[i] = integral from start to period i's start, in (g/kWh) x s, NaN periods
        counted as 0 (see `integral`); length n + 1."""
        out = np.zeros(len(self.values) + 1)
        np.cumsum(np.nan_to_num(self.values, nan=0.0) * self.resolution_s, out=out[1:])
        return out

    @cached_property
    def _nan_count(self) -> npt.NDArray[np.int64]:
        out = np.zeros(len(self.values) + 1, dtype=np.int64)
        np.cumsum(np.isnan(self.values), out=out[1:])
        return out

    def _cumulative_at(self, pos: float) -> float:
        index = min(math.floor(pos), len(self.values) - 1)
        if index < 0:
            return 0.0
        value = 0.0 if math.isnan(self.values[index]) else float(self.values[index])
        return float(self.cumulative[index]) + (pos - index) * value * self.resolution_s

    def with_fallback(self, reason: str) -> IntensitySeries:
        return replace(self, fallback=reason)


def from_points(
    times: Sequence[datetime],
    values: Sequence[float],
    *,
    zone: str,
    source: str,
    signal: Signal,
    kind: Kind,
    resolution: timedelta | None = None,
    issued_at: datetime | None = None,
    note: str | None = None,
) -> IntensitySeries:
    """Build a series from (time, value) points, refusing what a provider must not send:
    naive times, unsorted or duplicated times, NaN, infinite or negative values, times off
    the grid. Missing periods between points become NaN."""
    if len(times) != len(values):
        raise SeriesError("times and values differ in length")
    if not times:
        raise SeriesError("no data points")
    for t in times:
        if t.tzinfo is None:
            raise SeriesError(f"timestamp {t.isoformat()} has no time zone")
    for earlier, later in pairwise(times):
        if later == earlier:
            raise SeriesError(f"duplicated timestamp {later.isoformat()}")
        if later < earlier:
            raise SeriesError(f"timestamps out of order at {later.isoformat()}")
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise SeriesError("a value is NaN or infinite")
    if (array < 0).any():
        raise SeriesError(f"a negative intensity ({array.min():g} gCO2eq/kWh)")
    step = resolution or _infer_resolution(times)
    step_s = step.total_seconds()
    offsets = np.array([(t - times[0]).total_seconds() for t in times]) / step_s
    index = np.rint(offsets).astype(np.int64)
    if np.abs(offsets - index).max() > 1e-6:
        raise SeriesError(f"timestamps are not on a {step} grid")
    grid = np.full(index[-1] + 1, np.nan)
    grid[index] = array
    return IntensitySeries(
        zone=zone,
        source=source,
        signal=signal,
        kind=kind,
        start=times[0],
        resolution=step,
        values=grid,
        issued_at=issued_at,
        note=note,
    )


def _infer_resolution(times: Sequence[datetime]) -> timedelta:
    if len(times) < 2:
        return timedelta(hours=1)
    gaps = [(b - a) for a, b in pairwise(times)]
    return min(gaps)
