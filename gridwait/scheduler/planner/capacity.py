"""Free GPUs per step from the planning origin: reservations are made in whole steps,
covering a window conservatively (every step it touches)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
EPS = 1e-9
"""Positions within this many steps of a step boundary count as on it."""


class Capacity:
    """Free GPUs in slots [i x step, (i + 1) x step) from the origin, with prefix counts of
    the slots too full for a job of g GPUs, kept lazily up to date, and the runs of slots
    with g free, recomputed only when a reservation breaks one."""

    def __init__(self, step_s: float, free: IntArray, capacity: int) -> None:
        self.step_s = step_s
        self.free = free
        self.capacity = capacity
        self._busy: dict[int, IntArray] = {}
        self._valid: dict[int, int] = {}
        self._runs: dict[int, tuple[IntArray, IntArray, list[int], list[int]]] = {}

    @property
    def n(self) -> int:
        return len(self.free)

    def span(self, a: float, b: float) -> tuple[int, int]:
        """The slots a window [a, b) (seconds) touches."""
        return int(a / self.step_s + EPS), math.ceil(b / self.step_s - EPS)

    def ensure(self, slots: int) -> None:
        """Grow to at least `slots` slots, all free."""
        if slots <= self.n:
            return
        extra = max(slots - self.n, self.n)
        self.free = np.concatenate((self.free, np.full(extra, self.capacity, dtype=np.int64)))
        self._runs.clear()
        for g, prefix in self._busy.items():
            self._busy[g] = np.concatenate((prefix, np.zeros(extra, dtype=np.int64)))

    def busy(self, gpus: int, upto: int) -> IntArray:
        """Prefix counts of slots with fewer than `gpus` free, correct up to index `upto`:
        slots [s, e) with e <= upto are free when busy[e] == busy[s]."""
        self.ensure(upto)
        prefix = self._busy.get(gpus)
        if prefix is None:
            prefix = self._busy[gpus] = np.zeros(self.n + 1, dtype=np.int64)
            self._valid[gpus] = 0
        valid = self._valid[gpus]
        if valid < upto:
            counted = prefix[valid + 1 : upto + 1]
            np.cumsum(self.free[valid:upto] < gpus, out=counted)
            counted += prefix[valid]
            self._valid[gpus] = upto
        return prefix

    def take(self, first: int, last: int, gpus: int) -> None:
        """Reserve `gpus` in slots [first, last)."""
        self.ensure(last)
        held = self.free[first:last]
        counts = held.tolist()  # a window is a few slots: Python's min/max beat numpy's
        low, high = min(counts), max(counts)
        held -= gpus
        for g, valid in self._valid.items():  # a slot may have gone below g: recount
            if valid > first and low < g + gpus and high >= g:
                self._valid[g] = first
        for g in list(self._runs):  # a slot went below g: a run broke
            if low < g + gpus and high >= g and any(g <= c < g + gpus for c in counts):
                del self._runs[g]

    def reserve(self, gpus: int, segments: Sequence[tuple[float, float]]) -> None:
        for a, b in segments:
            self.take(*self.span(a, b), gpus)

    def free_runs(self, gpus: int, a: float, b: float) -> tuple[IntArray, IntArray]:
        """The maximal runs of slots with `gpus` free among those [a, b) (seconds)
        touches, as slot indices [starts, ends)."""
        first, last = self.span(a, b)
        self.ensure(last)
        cached = self._runs.get(gpus)
        if cached is None:
            padded = np.zeros(self.n + 2, dtype=np.bool_)
            padded[1:-1] = self.free >= gpus
            flips = (padded[1:] != padded[:-1]).nonzero()[0]  # not np.diff: 8x the overhead
            runs = (flips[0::2], flips[1::2])
            cached = self._runs[gpus] = (*runs, runs[0].tolist(), runs[1].tolist())
        starts, ends, start_list, end_list = cached
        # the runs that end after `first` and start before `last`
        i, j = bisect_right(end_list, first), bisect_left(start_list, last)
        runs_starts, runs_ends = starts[i:j], ends[i:j]
        if len(runs_starts) and (runs_starts[0] < first or runs_ends[-1] > last):
            runs_starts, runs_ends = np.maximum(runs_starts, first), np.minimum(runs_ends, last)
        keep = runs_starts < runs_ends
        return runs_starts[keep], runs_ends[keep]

    def earliest_fit(self, gpus: int, lo: float, length: float) -> float:
        """The earliest start at or after `lo` (seconds) whose window finds the GPUs free."""
        first = int(lo / self.step_s + EPS)
        k = max(1, math.ceil((lo + length) / self.step_s - EPS) - first)  # slots from `first`
        start, span = first, max(4 * k, 512)
        while True:
            bad = self.busy(gpus, start + span + k)[start : start + span + k + 1]
            fits = np.flatnonzero(bad[k:] == bad[:-k])
            if len(fits):
                found = start + int(fits[0])
                return lo if found == first else found * self.step_s
            start += span + 1
            span *= 2
