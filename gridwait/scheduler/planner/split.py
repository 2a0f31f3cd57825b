"""The cheapest split of an interruptible job, exact over segments of whole slots.

The family searched: segments made of whole capacity slots inside [lo, deadline], each of
at least `min_segment`; every segment after the first (and the first too, for a job that
is resuming) pays `resume_overhead` before it makes progress; the job stops when its work
is done, part-way through the last slot of its last segment (that segment too must last
`min_segment`). With r segments the job needs need_r = work + overhead x (r - 1 +
resuming) slot-lengths, so exactly K_r = ceil(need_r) slots, the last one used for
need_r - (K_r - 1) of its length.

A dynamic programme over the slots, vectorised over (slots used, segments), finds the
cheapest such set (ties to the earliest finish); the planner takes it only where it beats
the cheapest single window (which is exact over continuous start times). Cheap bounds skip
the programme where no split can win: too little work for two segments, or too few usable
slots, or even the cheapest slots taken singly cannot beat the single window."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gridwait.grid.series import FloatArray, StepFunction
from gridwait.scheduler.planner.contiguous import TIE, Gpus

EPS = 1e-9
Segments = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class SplitRules:
    """Seconds, except `resuming`."""

    step_s: float
    min_segment_s: float
    overhead_s: float
    resuming: bool = False


@dataclass(frozen=True)
class _Shape:
    """The rules in slot units, for one job."""

    need0: float
    """Slots needed with no segment at all: work + overhead x (resuming - 1)."""
    overhead: float
    min_seg: float
    m: int
    """Whole slots a segment needs."""

    def need(self, runs: int) -> float:
        return self.need0 + self.overhead * runs

    def slots(self, runs: int) -> int:
        return math.ceil(self.need(runs) - EPS)


def best_split(
    intensity: StepFunction,
    need: Gpus | None,
    span: tuple[float, float],
    work_s: float,
    rules: SplitRules,
    bound: float | None,
) -> tuple[Segments, float] | None:
    """(segments in seconds, integral in (g/kWh) x s) of the cheapest split of two or more
    segments in `span` (seconds) that costs less than `bound`; None if there is none."""
    step = rules.step_s
    first = math.ceil(span[0] / step - EPS)
    last = math.floor(span[1] / step + EPS)
    if last - first < 2:
        return None
    ms = rules.min_segment_s / step
    shape = _Shape(
        work_s / step + rules.overhead_s / step * (int(rules.resuming) - 1),
        rules.overhead_s / step,
        ms,
        max(1, math.ceil(ms - EPS)),
    )
    runs = _max_runs(shape, last - first)
    if runs < 2:
        return None
    bounds = np.arange(first, last + 1, dtype=np.float64) * step
    cost = np.diff(intensity.at(bounds))
    if need is not None:
        need.capacity.ensure(last)
        cost[need.capacity.free[first:last] < need.gpus] = np.inf
    _drop_short_runs(cost, shape.m)
    usable = np.sort(cost[np.isfinite(cost)])
    if len(usable) < shape.slots(2):
        return None
    # any split runs at least `whole` whole slots besides its last, partly used, slot
    whole = max(0, math.ceil(shape.need(2) - 1 - EPS))
    final_only = np.zeros(len(cost), dtype=bool)
    if bound is not None:
        if usable[:whole].sum() >= bound * (1 - TIE):
            return None  # even the cheapest slots cannot beat the single window
        # a slot dearer than this can only be the last, partly used, slot of a split
        final_only = cost >= bound * (1 - TIE) - usable[: max(0, whole - 1)].sum()
        if np.count_nonzero(np.isfinite(cost) & ~final_only) < whole:
            return None  # too few slots cheap enough to run whole
    found = _programme(intensity, bounds, (cost, final_only), shape, runs)
    if found is None or (bound is not None and found[1] >= bound * (1 - TIE)):
        return None
    return found


def _max_runs(shape: _Shape, slots: int) -> int:
    """The most segments any split can have: each needs m whole slots."""
    runs = 0
    while runs < slots and (runs + 1) * shape.m <= min(slots, shape.slots(runs + 1)):
        runs += 1
    return runs


def _drop_short_runs(cost: FloatArray, m: int) -> None:
    """Close the usable slots in runs shorter than a segment."""
    if m <= 1:
        return
    padded = np.concatenate(([False], np.isfinite(cost), [False]))
    flips = np.flatnonzero(padded[1:] != padded[:-1])
    for a, b in zip(flips[0::2].tolist(), flips[1::2].tolist(), strict=True):
        if b - a < m:
            cost[a:b] = np.inf


def _programme(
    intensity: StepFunction,
    bounds: FloatArray,
    slots: tuple[FloatArray, npt.NDArray[np.bool_]],
    shape: _Shape,
    runs: int,
) -> tuple[Segments, float] | None:
    """The dynamic programme over `slots` = (cost of each slot, whether it may only end a
    split), one layer per slot used: layer k, table [state, j, r] is the least cost of k
    slots in r segments whose k-th slot is slot j, in a segment of exactly 1..m slots so
    far (state 0..m-1) or of more than m (state m). Each layer is a few array operations
    over every slot at once."""
    cost, final_only = slots
    m, n = shape.m, len(cost)
    k = np.array([shape.slots(x) for x in range(1, runs + 1)])
    spare = k - np.array([shape.need(x) for x in range(1, runs + 1)])  # of the last slot
    short_ok = m - spare >= shape.min_seg - EPS  # a last segment of exactly m slots
    step = float(bounds[1] - bounds[0])
    # partly used last slot: what the job pays in slot j when it ends there with r runs
    starts = np.repeat(bounds[:-1], runs)
    ends = starts + np.tile(1 - spare, n) * step
    partial = (intensity.at(ends) - intensity.at(starts)).reshape(n, runs)
    partial[np.isinf(cost)] = np.inf
    passing = np.where(final_only, np.inf, cost)[None, :, None]  # may another slot follow?
    # the tables hold costs BEFORE slot j's own: + `passing` to go on, + `partial` to end
    layer = np.full((m + 1, n, runs + 1), np.inf)
    layer[0, :, 1] = 0.0
    layers = [layer]
    best, pick = math.inf, (0, 0, 0)
    for used in range(1, int(k.max()) + 1):
        if used > 1:
            layer = _next_layer(layers[-1], passing, m)
            layers.append(layer)
        xs = np.flatnonzero(k == used)
        if not len(xs):
            continue
        done = layer[m][:, xs + 1]
        if short_ok[xs].any():
            exact = np.where(short_ok[xs], layer[m - 1][:, xs + 1], np.inf)
            done = np.minimum(done, exact)
        totals = done + partial[:, xs]
        flat = int(totals.argmin())  # earliest last slot, then fewest segments
        total = float(totals.flat[flat])
        j, x = divmod(flat, len(xs))
        if total < best * (1 - TIE) or (total <= best * (1 + TIE) and j < pick[0]):
            best, pick = total, (j, int(xs[x]), used)
    if best == math.inf:
        return None
    j, x, used = pick
    end = float(bounds[j]) + (1 - float(spare[x])) * step
    chosen = _trace_back((layers, passing[0, :, 0]), (j, x + 1, used), m, bool(short_ok[x]))
    segments = [(float(bounds[a]), float(bounds[b])) for a, b in chosen]
    segments[-1] = (segments[-1][0], end)
    return tuple(segments), best


def _next_layer(prev: FloatArray, passing: FloatArray, m: int) -> FloatArray:
    """Layer k from layer k - 1 (see `_programme`)."""
    going = prev + passing
    layer = np.full_like(prev, np.inf)
    layer[1:m, 1:] = going[: m - 1, :-1]  # one more slot in the same segment
    complete = np.minimum(going[m - 1], going[m])
    layer[m, 1:] = complete[:-1]
    # a new segment at j after one that ended by j - 2
    ended = np.minimum.accumulate(complete, axis=0)
    layer[0, 2:, 1:] = ended[:-2, :-1]
    return layer


def _trace_back(
    tables: tuple[list[FloatArray], FloatArray],
    last: tuple[int, int, int],
    m: int,
    short_ok: bool,
) -> list[tuple[int, int]]:
    """The segments (slot indices [a, b)) of the split whose last slot is j, with r
    segments and k slots (`last` = (j, r, k)), read back through the layers."""
    layers, passing = tables
    j, r, k = last
    table = layers[k - 1]
    state = m if table[m, j, r] <= table[m - 1, j, r] or not short_ok else m - 1
    end, segments = j + 1, []
    while True:
        if state == 0:  # slot j starts its segment
            segments.append((j, end))
            if k == 1:
                break
            prev = layers[k - 2]
            complete = np.minimum(prev[m - 1, : j - 1, r - 1], prev[m, : j - 1, r - 1])
            complete = complete + passing[: j - 1]
            j, r, k = int(complete.argmin()), r - 1, k - 1
            state = m if prev[m, j, r] <= prev[m - 1, j, r] else m - 1
            end = j + 1
            continue
        prev = layers[k - 2]
        if state < m:
            state -= 1
        else:
            state = m if prev[m, j - 1, r] <= prev[m - 1, j - 1, r] else m - 1
        j, k = j - 1, k - 1
    return segments[::-1]
