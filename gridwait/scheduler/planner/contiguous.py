"""The cheapest single window: exact over continuous start times.

A window of length L started at s costs C(s) = F(s + L) - F(s), F the signal's running
integral. F is piecewise linear with breakpoints at the signal's edges, so C is linear
between the starts where s or s + L crosses an edge. Capacity is kept in whole slots and a
window needs every slot it touches, so whether a start fits changes only where s or s + L
crosses a slot boundary, and the set of starts that fit is closed (at a boundary a window
touches no more slots than just beside it). The minimum over every start in [lo, hi] that
fits is therefore at one of: the edges, the edges minus L, the slot boundaries and those
minus L (only when capacity binds), lo and hi. All are evaluated at once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridwait.grid.series import FloatArray, StepFunction
from gridwait.scheduler.planner.capacity import Capacity

TIE = 1e-10
"""Costs within this relative distance of the minimum are ties: the earliest start wins.
(Far below any difference a forecast can resolve, far above float64 rounding.)"""


@dataclass(frozen=True)
class Gpus:
    """The capacity a window must fit, and the GPUs it needs there."""

    capacity: Capacity
    gpus: int


def cheapest_start(
    intensity: StepFunction, length: float, lo: float, hi: float, need: Gpus | None = None
) -> tuple[float, float] | None:
    """(start, integral) of the cheapest window of `length` s starting in [lo, hi] that
    fits `need`; ties to the earliest start; None if none fits. Integral in (g/kWh) x s."""
    if hi < lo:
        return None
    starts = np.concatenate(
        (
            intensity.edges_in(lo, hi),
            intensity.edges_in(lo + length, hi + length) - length,
            (lo, hi),
        )
    )
    if need is not None:
        starts = _fitting(starts, need, (lo, hi), length)
        if not len(starts):
            return None
    return _cheapest(intensity, starts, length)


def _cheapest(intensity: StepFunction, starts: FloatArray, length: float) -> tuple[float, float]:
    n = len(starts)
    running = intensity.at(np.concatenate((starts, starts + length)))  # one lookup for both ends
    costs = running[n:] - running[:n]
    i = int(costs.argmin())  # argmin and a lookup: min() has 5x the overhead
    tied = costs <= costs[i] + TIE * abs(costs[i])
    if np.count_nonzero(tied) > 1:
        i = int(np.where(tied, starts, np.inf).argmin())  # the earliest of the ties
    return float(starts[i]), float(costs[i])


def _fitting(
    starts: FloatArray, need: Gpus, span: tuple[float, float], length: float
) -> FloatArray:
    """The candidate starts whose window finds the GPUs free, plus the ends of each
    interval of such starts: a window fits iff it lies inside one run of free slots.
    (All of `starts` when every window fits.)"""
    step = need.capacity.step_s
    first, last = need.capacity.free_runs(need.gpus, span[0], span[1] + length)
    if len(first) == 1 and first[0] * step <= span[0] and last[0] * step >= span[1] + length:
        return starts  # one run holds every window: all fit
    lower = np.maximum(first * step, span[0])  # not clip: a few times the overhead
    upper = np.minimum(last * step - length, span[1])
    keep = lower <= upper
    lower, upper = lower[keep], upper[keep]
    if not len(lower):
        return np.empty(0)
    run = lower.searchsorted(starts, side="right") - 1
    inside = (run >= 0) & (starts <= upper[np.maximum(run, 0)])
    return np.concatenate((starts[inside], lower, upper))
