"""The planner against independent brute forces: the single window over continuous start
times (any period length, offset, gap, step and deadline), and the interruptible split
over every set of whole slots."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner import PlanJob, PlanOptions, plan
from gridwait.scheduler.windows import greenest_window
from gridwait.units import J_PER_KWH

T0 = datetime(2026, 3, 2, tzinfo=UTC)
POWER = 1000.0


def series_of(values: list[float], start: datetime, minutes: float) -> IntensitySeries:
    return IntensitySeries(
        "Z",
        "test",
        "average",
        "forecast",
        start,
        timedelta(minutes=minutes),
        np.array(values, dtype=float),
        issued_at=start,
    )


# ---- the brute force: plain Python, no numpy, no shared code ---------------------------


def intensity_at(values: list[float], start: float, period: float, mean: float, t: float) -> float:
    """The value in force at t (seconds): the forecast, else its mean (gaps, outside)."""
    i = math.floor((t - start) / period)
    if 0 <= i < len(values) and not math.isnan(values[i]):
        return values[i]
    return mean


def brute_integral(
    values: list[float], start: float, period: float, mean: float, a: float, b: float
) -> float:
    """Walk [a, b) period by period."""
    total, t = 0.0, a
    while t < b:
        i = math.floor((t - start) / period)
        nxt = min(b, start + (i + 1) * period) if 0 <= i < len(values) else b
        if i < 0:
            nxt = min(b, start)
        if nxt <= t:  # float: step past the boundary
            nxt = min(b, t + 1e-9)
        total += (nxt - t) * intensity_at(values, start, period, mean, (t + nxt) / 2)
        t = nxt
    return total


def brute_best(
    values: list[float], start: float, period: float, length: float, lo: float, hi: float
) -> tuple[float, float, float]:
    """(optimum over the breakpoint candidates, its earliest start, min over a dense grid)."""
    known = [v for v in values if not math.isnan(v)]
    mean = sum(known) / len(known)
    bounds = [start + i * period for i in range(len(values) + 1)]
    candidates = {lo, hi} | {b for b in bounds if lo <= b <= hi}
    candidates |= {b - length for b in bounds if lo <= b - length <= hi}
    costs = sorted(
        (brute_integral(values, start, period, mean, s, s + length), s) for s in candidates
    )
    best = costs[0][0]
    first = min(s for c, s in costs if c <= best * (1 + 1e-10))
    dense = min(
        brute_integral(values, start, period, mean, s, s + length)
        for s in np.linspace(lo, hi, 301).tolist()
    )
    return best, first, dense


@st.composite
def single_window_cases(draw: st.DrawFn) -> dict[str, object]:
    minutes = draw(st.sampled_from([5, 7.5, 15, 20, 30, 60]))
    n = draw(st.integers(4, 40))
    # providers publish to 0.01 g/kWh at most
    values = [round(v, 2) for v in draw(st.lists(st.floats(0, 900), min_size=n, max_size=n))]
    for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
        values[i] = math.nan
    if all(math.isnan(v) for v in values):
        values[0] = 100.0
    offset_s = draw(st.integers(0, 3600))  # periods off any grid, e.g. 00:02:30
    step = draw(st.sampled_from([1, 3, 5, 7, 10, 15, 30, 60]))
    # times to the microsecond, as datetimes hold them
    now_s = round(draw(st.floats(0, n * minutes * 60)), 6)
    hours = round(draw(st.floats(0.05, 6)), 9)
    slack_h = round(draw(st.floats(0, 12)), 9)
    return {
        "values": values,
        "start": T0 + timedelta(seconds=offset_s),
        "minutes": minutes,
        "step": timedelta(minutes=step),
        "now": T0 + timedelta(seconds=now_s),
        "length_s": round(hours * 3600, 6),
        "deadline_s": round(now_s + hours * 3600 + slack_h * 3600, 6),
    }


@given(case=single_window_cases())
@settings(max_examples=300, deadline=None)
def test_single_window_is_the_exact_optimum_and_forecast_agrees(case: dict[str, object]) -> None:
    values, start, minutes = case["values"], case["start"], case["minutes"]
    assert isinstance(values, list) and isinstance(start, datetime)
    assert isinstance(minutes, (int, float)) and isinstance(case["now"], datetime)
    assert isinstance(case["step"], timedelta)
    now, length = case["now"], float(case["length_s"])  # type: ignore[arg-type]
    deadline = T0 + timedelta(seconds=float(case["deadline_s"]))  # type: ignore[arg-type]
    series = series_of(values, start, minutes)
    job = PlanJob(1, length, POWER, 1, now, deadline)
    [p] = plan(now, [job], series, None, options=PlanOptions(step=case["step"]))
    assert not p.late
    origin = T0
    lo = (now - origin).total_seconds()
    hi = (deadline - origin).total_seconds() - length
    best, first, dense = brute_best(
        values, (start - origin).total_seconds(), minutes * 60, length, lo, hi
    )
    cost = p.forecast_g * J_PER_KWH / POWER
    assert cost == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert dense >= best * (1 - 1e-9) - 1e-6  # nothing between the candidates is cheaper
    assert abs((p.start - origin).total_seconds() - first) < 1e-3
    window = greenest_window(
        series, timedelta(seconds=length), now, deadline - timedelta(seconds=length)
    )
    assert window is not None
    assert window.start == p.start
    assert window.mean_intensity * length == pytest.approx(cost, rel=1e-12, abs=1e-9)


def test_periods_off_the_slot_grid_are_planned_at_the_optimum() -> None:
    # half-hour periods starting at 00:02:30, a 30-minute job, 60-minute steps: the valley
    # [00:32:30, 01:02:30) is the optimum; slot averages would miss it
    series = series_of([400, 100, 400, 400], T0 + timedelta(minutes=2.5), 30)
    job = PlanJob(1, 1800, POWER, 1, T0, T0 + timedelta(hours=2))
    [p] = plan(T0, [job], series, None, options=PlanOptions(step=timedelta(minutes=60)))
    assert p.start == T0 + timedelta(minutes=32.5)
    assert p.forecast_g == pytest.approx(0.5 * 100)


def test_a_forecast_with_a_gap_still_has_a_greenest_window() -> None:
    series = series_of([300, 100, 100, math.nan, 300, 300, 300, 300], T0, 60)
    window = greenest_window(series, timedelta(hours=2))
    assert window is not None and window.start == T0 + timedelta(hours=1)
    assert window.fallback_share == 0 and window.mean_intensity == pytest.approx(100)
    longer = greenest_window(series, timedelta(hours=4))
    assert longer is not None and longer.fallback_share == pytest.approx(0.25)


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(minutes=-5)])
def test_a_window_needs_a_positive_duration(duration: timedelta) -> None:
    with pytest.raises(ValueError, match="positive duration"):
        greenest_window(series_of([100, 200], T0, 60), duration)


# ---- interruptible split -----------------------------------------------------------------

HALF = timedelta(minutes=30)


def split_plan(
    values: list[float], hours: float, deadline_h: float, options: PlanOptions, **kw: bool
) -> tuple[float, tuple[tuple[datetime, datetime], ...]]:
    series = series_of(values, T0, 30)
    job = PlanJob(1, hours * 3600, 2000.0, 1, T0, T0 + timedelta(hours=deadline_h), True, **kw)
    [p] = plan(T0, [job], series, None, options=options)
    return p.forecast_g, p.segments  # 2 kW for 30 minutes: 1 kWh, grams = the value


def test_split_takes_the_cheapest_set_not_the_cheapest_run() -> None:
    # values 75, 99, 10, 83, 83, 99; 90 minutes of work by 3 h; no overhead: slots
    # {0} + {2, 3} cost 75 + 10 + 83 = 168, the single window {2, 3, 4} 176
    values = [75, 99, 10, 83, 83, 99]
    no_overhead = PlanOptions(step=HALF, min_segment=HALF, resume_overhead=timedelta(0))
    grams, segments = split_plan(values, 1.5, 3, no_overhead)
    assert grams == pytest.approx(168)
    assert segments == ((T0, T0 + HALF), (T0 + 2 * HALF, T0 + 4 * HALF))
    # 2 minutes per resume: {0} + {2, 3} + 2 minutes of slot 4: 75 + 10 + 83 + 83 x 2/30
    overhead = PlanOptions(step=HALF, min_segment=HALF, resume_overhead=timedelta(minutes=2))
    grams, segments = split_plan(values, 1.5, 3, overhead)
    assert grams == pytest.approx(75 + 10 + 83 + 83 * 2 / 30)
    assert segments == ((T0, T0 + HALF), (T0 + 2 * HALF, T0 + 4 * HALF + timedelta(minutes=2)))


def brute_split(
    values: list[float], work: float, rules: tuple[int, float, bool], contiguous: float
) -> float:
    """Every set of whole 30-minute slots: runs of at least `m` slots, r runs needing
    work + overhead x (r - 1 + resuming) slots, the last slot used only as far as needed."""
    m, overhead, resuming = rules
    best = contiguous
    n = len(values)
    for size in range(1, n + 1):
        for chosen in combinations(range(n), size):
            runs: list[list[int]] = []
            for i in chosen:
                if runs and runs[-1][-1] == i - 1:
                    runs[-1].append(i)
                else:
                    runs.append([i])
            if any(len(run) < m for run in runs):
                continue
            need = work + overhead * (len(runs) - 1 + resuming)
            if size != math.ceil(need - 1e-9):
                continue
            used = 1 - (size - need)  # of the last slot
            if len(runs[-1]) - 1 + used < m - 1e-9:  # the last segment too lasts m slots
                continue
            cost = sum(values[i] for i in chosen[:-1]) + used * values[chosen[-1]]
            best = min(best, cost)
    return best


@given(
    values=st.lists(st.integers(0, 500), min_size=4, max_size=11),
    work=st.floats(1.0, 6.0),
    m=st.integers(1, 2),
    overhead=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
    resuming=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_split_is_the_optimum_over_every_set_of_slots(
    values: list[int], work: float, m: int, overhead: float, resuming: bool
) -> None:
    floats = [float(v) for v in values]
    options = PlanOptions(step=HALF, min_segment=HALF * m, resume_overhead=HALF * overhead)
    deadline = len(values) / 2
    grams, segments = split_plan(floats, work / 2, deadline, options, resuming=resuming)
    length = (work + (overhead if resuming else 0)) * 1800
    if length > deadline * 3600 + 1e-6:
        return  # late: not a split question
    single = plan(
        T0,
        [PlanJob(1, length, 2000.0, 1, T0, T0 + timedelta(hours=deadline))],
        series_of(floats, T0, 30),
        None,
        options=options,
    )[0].forecast_g
    assert grams == pytest.approx(
        brute_split(floats, work, (m, overhead, resuming), single), rel=1e-9, abs=1e-9
    )
    if len(segments) > 1:
        assert all(b - a >= HALF * m - timedelta(seconds=1) for a, b in segments)
    worked = sum(((b - a).total_seconds() for a, b in segments), 0.0)
    paid = (len(segments) - 1 + int(resuming)) * overhead * 1800
    assert worked == pytest.approx(work * 1800 + paid, abs=1e-3)
