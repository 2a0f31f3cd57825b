"""The planner: the greenest start (or set of slots) for every job, under deadlines and
GPU capacity. Pure: plain values in, plain values out; no database, no clock, no I/O.

Time is cut into slots of `step` from `now` (floored). Each slot has an intensity: the
forecast where it has one, else the fallback (the built-in profile), else the mean of the
forecast; a slot filled so is counted in the placement's `fallback_share`, so a window is
never chosen merely because it runs off the end of the data. A job's cost is its mean
power x the exact integral of intensity over its window(s), partial slots included.

Jobs are placed one by one, earliest deadline first, then larger energy, then id, each
taking GPUs off a per-slot capacity timeline, so the queue does not pile into one green
slot. A job that cannot finish by its deadline starts at the earliest time it can and is
marked late with the reason; nothing is ever dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridwait.grid.series import FloatArray, IntensitySeries
from gridwait.units import J_PER_KWH

BoolArray = npt.NDArray[np.bool_]
EPS = 1e-9


@dataclass(frozen=True)
class PlanJob:
    id: int
    duration_s: float
    """Work left, in domain seconds."""
    power_w: float
    """Mean facility power while running, W."""
    gpus: int
    earliest: datetime
    deadline: datetime
    interruptible: bool = False
    resuming: bool = False
    """A suspended job: its first segment also pays the resume overhead."""

    @property
    def energy_j(self) -> float:
        return self.power_w * self.duration_s


@dataclass(frozen=True)
class Running:
    """GPUs held by a job already running, until it is expected to end; or, with a
    start, a later segment it has been promised (an interruptible job between segments)."""

    gpus: int
    until: datetime
    start: datetime | None = None


@dataclass(frozen=True)
class PlanOptions:
    step: timedelta = timedelta(minutes=5)
    min_segment: timedelta = timedelta(minutes=30)
    resume_overhead: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Placement:
    job_id: int
    start: datetime
    end: datetime
    segments: tuple[tuple[datetime, datetime], ...]
    forecast_g: float
    """Emissions of the chosen window(s) under the planning signal, gCO2eq."""
    run_now_g: float
    """The same job started at once (at its earliest start) and run straight through."""
    late: bool = False
    reason: str | None = None
    """Why the job is late, or why its window is dirtier than running now."""
    fallback_share: float = 0.0
    """Share of the chosen window's time whose intensity came from a fallback."""
    source: str = ""

    @property
    def saving_g(self) -> float:
        return self.run_now_g - self.forecast_g


@dataclass
class _Timeline:
    """Slots from `origin`: intensity, fallback flags and free GPUs, with prefix sums so
    that any window's integral costs two lookups."""

    origin: datetime
    step_s: float
    values: FloatArray
    fallback: BoolArray
    free: npt.NDArray[np.int64] | None
    extend_value: float
    capacity: int | None = None
    cum: FloatArray = field(init=False)
    fb_cum: FloatArray = field(init=False)
    fit_bounds: dict[tuple[int, int], int] = field(default_factory=dict)
    """Per (GPUs, window slots): no such window fits before this slot. Capacity only
    shrinks, so these only move forward."""

    def __post_init__(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        # Intensities on a 1/1024 gCO2eq/kWh grid: then every prefix sum is exact in
        # float64, equal windows cost exactly the same, and argmin's first hit is the
        # earliest of tied starts. (No provider publishes finer than 0.01 g/kWh.)
        self.values = np.round(self.values * 1024) / 1024
        self.n = len(self.values)
        self.cum = np.zeros(self.n + 1)
        np.cumsum(self.values * self.step_s, out=self.cum[1:])
        self.fb_cum = np.zeros(self.n + 1)
        np.cumsum(self.fallback, out=self.fb_cum[1:])
        # plain lists for the scalar lookups of single windows: 10x faster than numpy scalars
        self._cum_list = self.cum.tolist()
        self._val_list = self.values.tolist()
        self._fb_list = self.fb_cum.tolist()
        self._fbv_list = self.fallback.astype(np.float64).tolist()
        self._times: dict[float, datetime] = {}
        self._sums: dict[int, FloatArray] = {}
        self._busy: dict[int, npt.NDArray[np.int64]] = {}
        self._valid: dict[int, int] = {}

    def busy(self, gpus: int, upto: int) -> npt.NDArray[np.int64]:
        """Prefix counts of slots with fewer than `gpus` free, correct up to index `upto`:
        a window [s, e) with e <= upto is free when busy[e] == busy[s].

        Counted lazily from the first slot a reservation may have changed (see `take`):
        a cumulative count over every slot is the slowest numpy step here."""
        assert self.free is not None
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
        assert self.free is not None
        held = self.free[first:last]
        counts = held.tolist()  # a window is a few slots: Python's min/max beat numpy's
        low, high = min(counts), max(counts)
        held -= gpus
        for g, valid in self._valid.items():  # a slot may have gone below g: recount
            if valid > first and low < g + gpus and high >= g:
                self._valid[g] = first

    def window_sums(self, whole: int) -> FloatArray:
        """Integral over `whole` slots from every slot boundary: cum[s + whole] - cum[s]."""
        sums = self._sums.get(whole)
        if sums is None:
            sums = self._sums[whole] = self.cum[whole:] - self.cum[: len(self.cum) - whole]
        return sums

    def pos(self, when: datetime) -> float:
        return (when - self.origin).total_seconds() / self.step_s

    def time(self, pos: float) -> datetime:
        when = self._times.get(pos)
        if when is None:
            when = self._times[pos] = self.origin + timedelta(seconds=round(pos * self.step_s, 3))
        return when

    def ensure(self, last_pos: float) -> None:
        """Grow the timeline to cover `last_pos` with fallback values and full capacity."""
        if last_pos <= self.n:
            return
        extra = max(math.ceil(last_pos) - self.n, self.n)
        self.values = np.concatenate((self.values, np.full(extra, self.extend_value)))
        self.fallback = np.concatenate((self.fallback, np.ones(extra, dtype=bool)))
        if self.free is not None and self.capacity is not None:
            self.free = np.concatenate((self.free, np.full(extra, self.capacity, dtype=np.int64)))
        self._refresh()

    def integral(self, pos: FloatArray) -> FloatArray:
        """Cumulative integral of intensity at slot positions (>= 0), in (g/kWh) x s."""
        index = pos.astype(np.int64)
        np.minimum(index, self.n - 1, out=index)
        result: FloatArray = self.cum[index] + (pos - index) * self.values[index] * self.step_s
        return result

    def _at(self, cum: list[float], per_slot: list[float], scale: float, x: float) -> float:
        i = int(x)
        if i >= self.n:
            i = self.n - 1
        return cum[i] + (x - i) * per_slot[i] * scale

    def window(self, a: float, b: float) -> float:
        """Integral of intensity over [a, b) in slot positions, (g/kWh) x s."""
        cum, values, step = self._cum_list, self._val_list, self.step_s
        return self._at(cum, values, step, b) - self._at(cum, values, step, a)

    def fallback_share(self, segments: Sequence[tuple[float, float]]) -> float:
        total = sum(b - a for a, b in segments)
        if total <= 0:
            return 0.0
        first, last = int(segments[0][0]), min(self.n, math.ceil(segments[-1][1]))
        if self._fb_list[last] == self._fb_list[first]:
            return 0.0  # the whole span is forecast
        cum, flags = self._fb_list, self._fbv_list
        hit = sum(self._at(cum, flags, 1.0, b) - self._at(cum, flags, 1.0, a) for a, b in segments)
        return hit / total

    def fit_bound(self, gpus: int, k: int) -> int:
        return self.fit_bounds.get((gpus, k), 0)

    def learn_fit(self, gpus: int, k: int, bound: int) -> None:
        if self.fit_bounds.get((gpus, k), 0) < bound:
            self.fit_bounds[(gpus, k)] = bound


def build_signal(
    origin: datetime,
    step: timedelta,
    slots: int,
    forecast: IntensitySeries,
    fallback: IntensitySeries | None = None,
) -> tuple[FloatArray, BoolArray, float]:
    """Intensity per slot (mean over the slot), which slots came from the fallback, and the
    value used beyond both (the fallback's mean, else the forecast's)."""
    edges = np.array(
        [(origin + step * i - forecast.start).total_seconds() for i in range(slots + 1)]
    )
    values, known = _resample(forecast, edges)
    is_fallback = ~known
    extend = float(np.nanmean(forecast.values)) if forecast.known() else 0.0
    if fallback is not None and fallback.known():
        fb_edges = edges + (forecast.start - fallback.start).total_seconds()
        fb_values, fb_known = _resample(fallback, fb_edges)
        fill = is_fallback & fb_known
        values[fill] = fb_values[fill]
        extend = float(np.nanmean(fallback.values))
    values[np.isnan(values)] = extend
    return values, is_fallback, extend


def _resample(series: IntensitySeries, edges_s: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Mean of `series` over each [edges[i], edges[i+1]) (seconds from its start); NaN and
    False where a slot is not fully covered by known periods."""
    step = series.resolution_s
    raw = series.values
    known_periods = ~np.isnan(raw)
    clean = np.where(known_periods, raw, 0.0)
    cum = np.zeros(len(raw) + 1)
    np.cumsum(clean * step, out=cum[1:])
    bad = np.zeros(len(raw) + 1, dtype=np.int64)
    np.cumsum(~known_periods, out=bad[1:])
    pos = np.clip(edges_s / step, 0.0, float(len(raw)))
    index = np.clip(np.floor(pos).astype(np.int64), 0, len(raw) - 1)
    at = cum[index] + (pos - index) * clean[index] * step
    width = np.diff(edges_s)
    means = np.diff(at) / np.where(width > 0, width, 1.0)
    inside = (edges_s[:-1] >= -EPS) & (edges_s[1:] <= len(raw) * step + EPS)
    lo = np.floor(pos[:-1] + EPS).astype(np.int64)
    hi = np.ceil(pos[1:] - EPS).astype(np.int64)
    gaps = bad[np.clip(hi, 0, len(raw))] - bad[np.clip(lo, 0, len(raw))]
    known = inside & (gaps == 0)
    return np.where(known, means, np.nan), known


def plan(
    now: datetime,
    jobs: Sequence[PlanJob],
    forecast: IntensitySeries,
    capacity: int | None,
    running: Sequence[Running] = (),
    *,
    fallback: IntensitySeries | None = None,
    options: PlanOptions = PlanOptions(),
) -> list[Placement]:
    """A placement for every job, in the order they were placed (EDF, energy, id)."""
    if not jobs:
        return []
    step = options.step
    origin = _floor(now, step)
    # long enough for every deadline, running job, and the data we were given; growing
    # later adds fallback values and full capacity only
    horizon = max(
        *(max(j.deadline, j.earliest + timedelta(seconds=j.duration_s)) for j in jobs),
        *(r.until for r in running),
        forecast.end,
        fallback.end if fallback is not None else forecast.end,
    )
    slots = max(1, math.ceil((horizon - origin) / step))
    values, is_fallback, extend = build_signal(origin, step, slots, forecast, fallback)
    free = None
    if capacity is not None:
        free = np.full(slots, capacity, dtype=np.int64)
        for r in running:
            begin = 0 if r.start is None else max(0, int((r.start - origin) / step))
            end = min(slots, math.ceil((r.until - origin) / step))
            if end > begin:
                free[begin:end] -= r.gpus
    line = _Timeline(origin, step.total_seconds(), values, is_fallback, free, extend, capacity)
    source = _source(forecast, fallback)
    order = sorted(jobs, key=lambda j: (j.deadline, -j.energy_j, j.id))
    return [_place(line, job, now, capacity, options, source) for job in order]


def _floor(when: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=when.tzinfo)
    return when - (when - epoch) % step


def _source(forecast: IntensitySeries, fallback: IntensitySeries | None) -> str:
    text = f"{forecast.kind} {forecast.source}"
    if forecast.issued_at is not None:
        text += f" issued {forecast.issued_at:%Y-%m-%d %H:%M}"
    if forecast.fallback:
        text += f" (fallback: {forecast.fallback})"
    text += f"; beyond {forecast.end:%Y-%m-%d %H:%M}: "
    text += (
        f"{fallback.source} {fallback.note or ''}".strip()
        if fallback is not None
        else "the forecast's mean"
    )
    return text


def _place(
    line: _Timeline,
    job: PlanJob,
    now: datetime,
    capacity: int | None,
    options: PlanOptions,
    source: str,
) -> Placement:
    # a suspended job pays the resume overhead before it makes progress again
    overhead = options.resume_overhead.total_seconds() if job.resuming else 0.0
    length = (job.duration_s + overhead) / line.step_s
    lo = max(line.pos(now), line.pos(job.earliest), 0.0)
    hi = line.pos(job.deadline) - length
    line.ensure(max(hi, lo) + length + 1)
    run_now = _grams(line, job, ((lo, lo + length),))
    if capacity is not None and job.gpus > capacity:
        why = f"needs {job.gpus} GPUs but the lab lends {capacity}; waiting for more"
        return _late(line, job, lo, length, run_now, source, why, reserve=False)
    if hi < lo - EPS:
        available = max(0.0, (job.deadline - max(now, job.earliest)).total_seconds())
        why = f"needs {_hours(job.duration_s)} but only {_hours(available)} remain"
        why += " before the deadline"
        return _late(line, job, lo, length, run_now, source, why)
    best = _best_contiguous(line, job, lo, hi, length)
    segments: tuple[tuple[float, float], ...] | None = None
    if best is not None:
        segments = ((best, best + length),)
    if job.interruptible:
        bound = None if best is None else line.window(best, best + length)
        work = job.duration_s / line.step_s  # the split pays its own overheads
        split = _best_split(line, job, lo, line.pos(job.deadline), work, options, bound)
        if split is not None:
            segments = split
    if segments is None:
        why = f"no {job.gpus} free GPU(s) for {_hours(job.duration_s)} before the deadline"
        return _late(line, job, lo, length, run_now, source, why)
    _reserve(line, job, segments)
    return _placement(line, job, segments, run_now, source)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _grams(line: _Timeline, job: PlanJob, segments: Sequence[tuple[float, float]]) -> float:
    last = segments[-1][1]
    if last > line.n:
        line.ensure(last)
    return job.power_w * sum(line.window(a, b) for a, b in segments) / J_PER_KWH


def _best_contiguous(
    line: _Timeline, job: PlanJob, lo: float, hi: float, length: float
) -> float | None:
    """The cheapest feasible start in [lo, hi], ties to the earliest; None if none fits.

    With intensity constant inside each slot, a window's cost is linear in its start
    between the points where its start or its end crosses a slot boundary. So the exact
    minimum over all start times is among: the slot boundaries s (family A), the starts
    whose window ends on a boundary, s + 1 - frac(length) (family B), and lo and hi.
    Family B costs follow from family A in one step: moving the start by 1 - frac swaps
    that much of slot s for slot s + whole. Both need the same slots free. Vectorised by
    slicing prefix sums: no gathers."""
    whole, frac = int(length), length - int(length)
    first, last = math.ceil(lo - EPS), math.floor(hi + EPS)  # integer starts in [lo, hi]
    k = math.ceil(length - EPS)
    known = line.fit_bound(job.gpus, k) if line.free is not None and job.gpus else 0
    if known > last:
        return None  # known: no window of this size with these GPUs starts that early
    line.ensure(max(last, first) + whole + 2)
    span = max(0, last - first + 1)
    shift = 1.0 - frac if frac > EPS else 0.0
    extra = [x for x in (lo, hi) if abs(x - round(x)) > EPS]
    if shift and lo <= first - 1 + shift <= hi:
        extra.append(first - 1 + shift)  # family B from the slot lo is in
    best, best_cost = float(first), math.inf
    if span:
        tail = line.values[first + whole : last + whole + 1]
        costs = line.window_sums(whole)[first : last + 1] + (frac * line.step_s) * tail
        if line.free is not None and job.gpus:  # only windows with the GPUs free all along
            busy = line.busy(job.gpus, last + k)
            if busy[last + k] != busy[first]:  # some slot in reach is taken
                costs[busy[first + k : last + k + 1] != busy[first : last + 1]] = np.inf
        later = costs
        if shift:  # family B at each index: never worse than A where the end slot is cleaner
            later = costs + (shift * line.step_s) * (tail - line.values[first : last + 1])
            if first + span - 1 + shift > hi + EPS:
                later[-1] = np.inf  # that start would miss the deadline
            later = np.minimum(costs, later)
        i = _earliest_min(later)
        best_cost = float(later[i])
        # at an index, A starts before B: A wins a tie
        best = float(first + i) if costs[i] <= best_cost else first + i + shift
    if span and best_cost == math.inf and line.free is not None and job.gpus and first <= known:
        line.learn_fit(job.gpus, k, last + 1)  # no window starts in [0, last]
    for x in extra:  # a fractional lo or hi: its window too, if it is cheaper and free
        cost = line.window(x, x + length)
        better = cost < best_cost - 1e-9 or (abs(cost - best_cost) <= 1e-9 and x < best)
        if better and _window_free(line, job, x, length):
            best, best_cost = x, cost
    return best if best_cost < math.inf else None


def _earliest_min(costs: FloatArray) -> int:
    """Index of the minimum, ties to the earliest (prefix sums are exact, see _refresh)."""
    return int(costs.argmin())


def _window_free(line: _Timeline, job: PlanJob, a: float, length: float) -> bool:
    if line.free is None or job.gpus == 0:
        return True
    end = math.ceil(a + length - EPS)
    busy = line.busy(job.gpus, end)
    return bool(busy[end] == busy[int(a + EPS)])


def _best_split(
    line: _Timeline,
    job: PlanJob,
    lo: float,
    deadline: float,
    length: float,
    options: PlanOptions,
    contiguous: float | None,
) -> tuple[tuple[float, float], ...] | None:
    """The cheapest set of whole slots before the deadline with segments of at least the
    minimum length, paying the resume overhead per resumed segment. None if it fits
    nowhere or cannot beat `contiguous` (the best single window's integral)."""
    first, last = math.ceil(lo - EPS), math.floor(deadline + EPS)
    if last <= first:
        return None
    min_len = max(1, math.ceil(options.min_segment.total_seconds() / line.step_s - EPS))
    overhead = options.resume_overhead.total_seconds() / line.step_s
    values = line.values[first:last]
    usable = np.ones(last - first, dtype=bool)
    if line.free is not None and job.gpus:
        usable = line.free[first:last] >= job.gpus
    ranked = np.sort(values[usable])
    need = math.ceil(length - EPS)
    if len(ranked) < need:
        return None
    floor_cost = float(ranked[:need].sum()) * line.step_s
    if contiguous is not None and contiguous <= floor_cost * (1 + 1e-9):
        return None  # no set of slots can beat the best single window
    pick = _smallest_threshold(
        values, usable, ranked, need, min_len, overhead, length, job.resuming
    )
    if pick is None:
        return None
    segments = _trim(
        line, [(first + a, first + b) for a, b in pick], length, overhead, job.resuming, min_len
    )
    if contiguous is not None and sum(line.window(a, b) for a, b in segments) >= contiguous - EPS:
        return None
    return tuple(segments)


def _smallest_threshold(
    values: FloatArray,
    usable: BoolArray,
    ranked: FloatArray,
    need: int,
    min_len: int,
    overhead: float,
    length: float,
    resuming: bool,
) -> list[tuple[int, int]] | None:
    """Runs of the slots at or under the lowest intensity threshold that carries the work
    (the `ranked` usable values give the thresholds to try; galloping, then bisecting)."""

    def runs_at(k: int) -> list[tuple[int, int]]:
        return _runs(usable & (values <= ranked[min(k, len(ranked) - 1)]), min_len)

    k, found = need - 1, None
    while k < len(ranked):
        runs = runs_at(k)
        if _capacity_of(runs, overhead, resuming) >= length - EPS:
            found = (k, runs)
            break
        k = min(len(ranked), need - 1 + 2 * (k - need + 2))
    if found is None:
        return None
    low, high = max(need - 1, (found[0] + need - 1) // 2), found[0] - 1
    best = found[1]
    while low <= high:
        mid = (low + high) // 2
        runs = runs_at(mid)
        if _capacity_of(runs, overhead, resuming) >= length - EPS:
            best, high = runs, mid - 1
        else:
            low = mid + 1
    return best


def _runs(selected: BoolArray, min_len: int) -> list[tuple[int, int]]:
    """Maximal runs of True of at least `min_len` slots, as [start, end) slot indices."""
    padded = np.concatenate(([False], selected, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, ends = edges[0::2], edges[1::2]
    keep = (ends - starts) >= min_len
    return list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))


def _capacity_of(runs: Sequence[tuple[float, float]], overhead: float, resuming: bool) -> float:
    paid = len(runs) - 1 + int(resuming) if runs else 0
    return sum(b - a for a, b in runs) - overhead * paid


def _trim(
    line: _Timeline,
    segments: list[tuple[float, float]],
    length: float,
    overhead: float,
    resuming: bool,
    min_len: int,
) -> list[tuple[float, float]]:
    """Drop the dearest whole segments, then shave dear end slots, until the work just fits."""
    segments = sorted(segments)
    while len(segments) > 1:
        dearest = max(segments, key=lambda s: line.window(s[0], s[1]) / (s[1] - s[0]))
        rest = [s for s in segments if s != dearest]
        if _capacity_of(rest, overhead, resuming) < length - EPS:
            break
        segments = rest
    excess = _capacity_of(segments, overhead, resuming) - length
    while excess > EPS:
        choice: tuple[float, int, int] | None = None  # (slot value, segment, side)
        for i, (a, b) in enumerate(segments):
            if b - a - min_len <= EPS:
                continue
            for side, slot in ((1, math.ceil(b - EPS) - 1), (0, int(a + EPS))):
                value = float(line.values[slot])
                if choice is None or value > choice[0]:
                    choice = (value, i, side)
        if choice is None:
            break
        _, i, side = choice
        a, b = segments[i]
        cut = min(excess, 1.0, b - a - min_len)
        segments[i] = (a + cut, b) if side == 0 else (a, b - cut)
        excess -= cut
    return segments


def _reserve(line: _Timeline, job: PlanJob, segments: Sequence[tuple[float, float]]) -> None:
    if line.free is None or job.gpus == 0:
        return
    for a, b in segments:
        line.take(int(a + EPS), math.ceil(b - EPS), job.gpus)


def _late(
    line: _Timeline,
    job: PlanJob,
    lo: float,
    length: float,
    run_now: float,
    source: str,
    reason: str,
    reserve: bool = True,
) -> Placement:
    """Start as early as the capacity allows, growing the timeline if needed."""
    start = _earliest_fit(line, job, lo, length) if reserve else lo
    segments = ((start, start + length),)
    if reserve:
        _reserve(line, job, segments)
    if start > lo + EPS:
        reason += f"; starts {line.time(start):%Y-%m-%d %H:%M}"
    return _placement(line, job, segments, run_now, source, reason)


def _earliest_fit(line: _Timeline, job: PlanJob, lo: float, length: float) -> float:
    if line.free is None or job.gpus == 0:
        return lo
    k = math.ceil(length - EPS) + (1 if lo % 1 > EPS else 0)
    known = line.fit_bound(job.gpus, k)  # no such window starts before `known`
    start = max(int(lo), known)
    span = max(4 * k, 512)
    while True:
        line.ensure(start + span + k)
        bad = line.busy(job.gpus, start + span + k)[start : start + span + k + 1]
        fits = np.flatnonzero(bad[k:] == bad[:-k])
        if len(fits):
            found = start + int(fits[0])
            if int(lo) <= known:  # nothing fits in [0, found): remember it
                line.learn_fit(job.gpus, k, found)
            return max(float(found), lo)
        start += span + 1
        span *= 2


def _placement(
    line: _Timeline,
    job: PlanJob,
    segments: Sequence[tuple[float, float]],
    run_now: float,
    source: str,
    late_reason: str | None = None,
) -> Placement:
    times = tuple((line.time(a), line.time(b)) for a, b in segments)
    forecast = _grams(line, job, segments)
    reason = late_reason
    if reason is None and forecast > run_now * (1 + 1e-9):
        # run-now ignores capacity: the greenest window is only ever dirtier when the
        # cleaner, earlier slots went to jobs planned before this one
        reason = "earlier starts are taken by other jobs"
    return Placement(
        job_id=job.id,
        start=times[0][0],
        end=times[-1][1],
        segments=times,
        forecast_g=forecast,
        run_now_g=run_now,
        late=late_reason is not None,
        reason=reason,
        fallback_share=line.fallback_share(segments),
        source=source,
    )
