"""`IntensitySeries`: carbon intensity on a regular time grid.

Value i covers the period [start + i x resolution, start + (i + 1) x resolution) and is
the average intensity over it, in gCO2eq/kWh. NaN marks a period with no data. Integrals
are exact over partial periods: intensity is constant inside a period.

`StepFunction` is the one running integral every "grams over [a, b)" question goes
through: the planner, `gridwait forecast`, the simulator and the emissions accounting.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
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


FALLBACK_TAG = "(fallback: "
"""How a label says its numbers stand in for the provider's (the metrics count these)."""


def fallback_tag(reason: str) -> str:
    return f"{FALLBACK_TAG}{reason})"


@dataclass(frozen=True, eq=False)
class StepFunction:
    """A piecewise-constant intensity and its exact running integral F.

    Piece i holds `values[i]` over [edges[i], edges[i + 1]); beyond the last edge the
    function holds `tail`. Positions are seconds from any origin the caller picks; F is in
    (gCO2eq/kWh) x s and F(edges[0]) = 0. F is piecewise linear with its breakpoints at the
    edges, so the integral over [a, b) is F(b) - F(a), exact over partial pieces.
    """

    edges: FloatArray
    """Increasing positions, s; one more than `values`."""
    values: FloatArray
    """gCO2eq/kWh per piece, finite."""
    tail: float
    """gCO2eq/kWh after the last edge."""

    @cached_property
    def _slope(self) -> FloatArray:
        return np.append(self.values, self.tail)

    @cached_property
    def _lists(self) -> tuple[list[float], list[float], list[float]]:
        # plain lists for scalar lookups: bisect on them beats numpy scalars tenfold
        return self.edges.tolist(), self.cumulative.tolist(), self._slope.tolist()

    @cached_property
    def cumulative(self) -> FloatArray:
        """F at every edge."""
        out = np.zeros(len(self.edges))
        np.cumsum(self.values * np.diff(self.edges), out=out[1:])
        return out

    def at(self, x: FloatArray) -> FloatArray:
        """F at positions `x` (each at or after the first edge), vectorised."""
        i = self.edges.searchsorted(x, side="right") - 1  # the method: no dispatch overhead
        np.maximum(i, 0, out=i)  # not clip: a few times the overhead on small arrays
        result: FloatArray = self.cumulative[i] + (x - self.edges[i]) * self._slope[i]
        return result

    def at_scalar(self, x: float) -> float:
        edges, cumulative, slope = self._lists
        i = max(bisect_right(edges, x) - 1, 0)
        return cumulative[i] + (x - edges[i]) * slope[i]

    def integral(self, a: float, b: float) -> float:
        """Integral over [a, b), (gCO2eq/kWh) x s."""
        return self.at_scalar(b) - self.at_scalar(a)

    def edges_in(self, a: float, b: float) -> FloatArray:
        """The edges in [a, b]."""
        edges = self._lists[0]
        return self.edges[bisect_left(edges, a) : bisect_right(edges, b)]


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
    error: float | None = None
    """The stated standard error of each value as a share of the mean (forecasts only);
    None where the source does not state one."""
    lower: FloatArray | None = None
    """gCO2eq/kWh per period: the lower edge of the forecast's band (a corrected forecast
    only, see grid/corrector.py; its `note` names the band's coverage and method)."""
    upper: FloatArray | None = None
    """gCO2eq/kWh per period: the upper edge of the band."""
    band: float | None = None
    """The central share of the error distribution [lower, upper] covers (0.8: its 10 %
    and 90 % quantiles, `values` its median); None without a band."""
    correction: str | None = None
    """What the live corrector did to this forecast, for the plan's source: how it was
    corrected, or why it was left raw (grid/live_correction.py); None where no correction
    was asked for."""

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
            self,
            start=self.start + self.resolution * lo,
            values=self.values[lo:hi].copy(),
            lower=None if self.lower is None else self.lower[lo:hi].copy(),
            upper=None if self.upper is None else self.upper[lo:hi].copy(),
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
        offset = self.start
        return self.step_function.integral(
            (start - offset).total_seconds(), (end - offset).total_seconds()
        )

    def mean(self, start: datetime, end: datetime) -> float:
        seconds = (end - start).total_seconds()
        if seconds <= 0:
            lo = min(len(self.values) - 1, math.floor(self.position(start)))
            return float(self.values[lo])
        return self.integral(start, end) / seconds

    @cached_property
    def step_function(self) -> StepFunction:
        """The series as a `StepFunction` in seconds from `start`, NaN periods as 0 (see
        `integral`, which refuses them); 0 after the end."""
        edges = np.arange(len(self.values) + 1, dtype=np.float64) * self.resolution_s
        return StepFunction(edges, np.nan_to_num(self.values, nan=0.0), 0.0)

    @property
    def cumulative(self) -> FloatArray:
        """F[i] = integral from start to period i's start, in (g/kWh) x s, NaN periods
        counted as 0 (see `integral`); length n + 1."""
        return self.step_function.cumulative

    @cached_property
    def _nan_count(self) -> npt.NDArray[np.int64]:
        out = np.zeros(len(self.values) + 1, dtype=np.int64)
        np.cumsum(np.isnan(self.values), out=out[1:])
        return out

    def with_fallback(self, reason: str) -> IntensitySeries:
        return replace(self, fallback=reason)


def from_points(  # noqa: PLR0913  (the fields of IntensitySeries, keyword-only)
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
