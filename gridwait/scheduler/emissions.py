"""Emissions of measured (or planned) energy against an intensity series.

Between two samples the power is taken as constant; the energy of that interval is
multiplied by the mean intensity over exactly that interval, periods cut where they
begin and end. Samples and periods need not align.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise

from gridwait.grid.series import IntensitySeries
from gridwait.units import J_PER_KWH

Sample = tuple[datetime, float]
"""(time, cumulative joules since the start of the run)"""


def integrate(samples: Sequence[Sample], series: IntensitySeries) -> float:
    """gCO2eq of the energy between consecutive samples. NaN if a touched period has no
    intensity; SeriesError if the samples leave the series."""
    grams = 0.0
    for (t0, e0), (t1, e1) in pairwise(samples):
        energy = e1 - e0
        if energy == 0:
            continue
        if t1 < t0:
            raise ValueError(f"samples out of order at {t1.isoformat()}")
        intensity = series.mean(t0, t1)
        grams += energy / J_PER_KWH * intensity
    return grams


def constant_power(start: datetime, seconds: float, joules: float) -> list[Sample]:
    """The two samples of a run drawing `joules` evenly over `seconds` from `start`."""
    return [(start, 0.0), (start + timedelta(seconds=seconds), joules)]


def shifted(
    samples: Sequence[Sample], start: datetime, gaps: Sequence[tuple[datetime, datetime]] = ()
) -> list[Sample]:
    """The same energy profile moved to begin at `start`, with the pauses in `gaps` (e.g.
    between segments of a suspended job) removed: the "had it started at once" run."""
    if not samples:
        return []
    out = []
    for when, energy in samples:
        paused = sum(((min(when, b) - a) for a, b in gaps if a < when), timedelta(0))
        out.append((start + (when - samples[0][0]) - paused, energy))
    return out
