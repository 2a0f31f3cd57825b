"""The planner: hand-computed cases and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner import PlanJob, PlanOptions, Running, plan
from gridwait.scheduler.planner.capacity import Capacity
from gridwait.scheduler.planner.signal import build_signal

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)


def hourly(values: list[float], start: datetime = T0, kind: str = "forecast") -> IntensitySeries:
    return IntensitySeries(
        "Z", "test", "average", kind, start, H, np.array(values, dtype=float), issued_at=start
    )  # type: ignore[arg-type]


def job(
    i: int,
    hours: float,
    deadline_h: float,
    gpus: int = 1,
    power: float = 1000.0,
    earliest_h: float = 0,
    **kw: bool,
) -> PlanJob:
    return PlanJob(i, hours * 3600, power, gpus, T0 + H * earliest_h, T0 + H * deadline_h, **kw)


def test_two_valleys_the_deeper_wins() -> None:
    forecast = hourly([400, 400, 200, 200, 400, 400, 100, 100, 400, 400])
    [p] = plan(T0, [job(1, 2, 10)], forecast, None)
    assert p.start == T0 + 6 * H and p.end == T0 + 8 * H
    assert p.forecast_g == pytest.approx(1.0 * 2 * 100)  # 1 kW x 2 h x 100 g/kWh
    assert p.run_now_g == pytest.approx(800) and p.saving_g == pytest.approx(600)
    assert not p.late and p.fallback_share == 0


def test_deadline_exactly_at_the_end_of_a_window() -> None:
    forecast = hourly([400, 400, 400, 100, 100, 400])
    [p] = plan(T0, [job(1, 2, 5)], forecast, None)
    assert p.end == T0 + 5 * H and p.start == T0 + 3 * H and not p.late


def test_partial_periods_are_integrated_exactly() -> None:
    forecast = hourly([100, 300, 300, 300])
    [p] = plan(T0 + timedelta(minutes=30), [job(1, 1, 4, earliest_h=0.5)], forecast, None)
    assert p.start == T0 + timedelta(minutes=30)  # half at 100, half at 300 beats any other hour
    assert p.forecast_g == pytest.approx(0.5 * 100 + 0.5 * 300)


def test_a_job_longer_than_the_forecast_uses_the_fallback_and_says_so() -> None:
    forecast = hourly([300, 300, 300])
    fallback = hourly([250] * 48)
    [p] = plan(T0, [job(1, 5, 24)], forecast, None, fallback=fallback)
    assert p.fallback_share > 0 and "beyond" in p.source
    assert p.forecast_g == pytest.approx(5 * 250)  # all of it after the forecast at 250 is cheaper


def test_never_picks_a_window_because_it_runs_off_the_data() -> None:
    forecast = hourly([200] * 6)
    [p] = plan(T0, [job(1, 2, 20)], forecast, None)  # no fallback: beyond is the mean (200)
    assert p.start == T0  # ties go to the earliest; nothing past the end looks cheaper


def test_zero_slack_starts_at_once() -> None:
    forecast = hourly([100, 500, 500, 50])
    [p] = plan(T0, [job(1, 3, 3)], forecast, None)
    assert p.start == T0 and not p.late


def test_impossible_deadline_is_late_not_dropped() -> None:
    forecast = hourly([100] * 10)
    [p] = plan(T0, [job(1, 4, 2)], forecast, None)
    assert p.late and p.start == T0
    assert p.reason == "needs 4.0 h but only 2.0 h remain before the deadline"


def test_ties_go_to_the_earliest_start() -> None:
    forecast = hourly([300, 100, 100, 100, 100, 300])
    [p] = plan(T0, [job(1, 2, 6)], forecast, None)
    assert p.start == T0 + H


def test_two_jobs_compete_for_one_gpu() -> None:
    forecast = hourly([400, 100, 100, 200, 200, 400, 400, 400])
    first, second = plan(T0, [job(2, 2, 8), job(1, 2, 7)], forecast, 1)
    assert first.job_id == 1  # earliest deadline first
    assert first.start == T0 + H and second.start == T0 + 3 * H


def test_capacity_full_until_a_running_job_ends() -> None:
    forecast = hourly([100, 100, 300, 300, 300, 300])
    [p] = plan(T0, [job(1, 1, 6)], forecast, 2, running=[Running(2, T0 + 2 * H)])
    assert p.start == T0 + 2 * H


def test_a_window_dirtier_than_run_now_says_the_capacity_is_why() -> None:
    # run-now ignores capacity: job 2 cannot have the clean first hour that job 1 holds
    forecast = hourly([100, 300, 300, 300])
    first, second = plan(T0, [job(1, 1, 2), job(2, 1, 4)], forecast, 1)
    assert first.start == T0 and first.reason is None
    assert second.forecast_g > second.run_now_g and not second.late
    assert second.reason == "earlier starts are taken by other jobs"


def test_more_gpus_than_the_lab_has() -> None:
    [p] = plan(T0, [job(1, 1, 6, gpus=9)], hourly([100] * 6), 8)
    assert p.late and "lends 8" in (p.reason or "")


def test_capacity_late_job_starts_when_gpus_free_up() -> None:
    forecast = hourly([100] * 12)
    busy = Running(1, T0 + 5 * H)
    [p] = plan(T0, [job(1, 2, 4)], forecast, 1, running=[busy])
    assert p.late and p.start == T0 + 5 * H and "no 1 free GPU(s)" in (p.reason or "")


def test_interruptible_slots_with_overhead() -> None:
    # two valleys of one hour each; a 1.5 h job with 6 min overhead per resume
    forecast = hourly([500, 100, 500, 500, 100, 500, 500, 500])
    options = PlanOptions(min_segment=timedelta(minutes=30), resume_overhead=timedelta(minutes=6))
    [p] = plan(T0, [job(1, 1.5, 8, interruptible=True)], forecast, None, options=options)
    assert len(p.segments) == 2
    assert sum((b - a for a, b in p.segments), timedelta(0)) == timedelta(
        minutes=96
    )  # 90 + 6 overhead
    assert p.segments[0][0] == T0 + H and p.segments[1][0] == T0 + 4 * H
    assert p.forecast_g == pytest.approx(96 / 60 * 100)
    contiguous = plan(T0, [job(1, 1.5, 8)], forecast, None)[0]
    assert p.forecast_g < contiguous.forecast_g


def test_interruptible_is_not_shredded_below_the_minimum_segment() -> None:
    forecast = hourly([100 if h % 2 else 400 for h in range(24)])
    options = PlanOptions(min_segment=timedelta(hours=2), resume_overhead=timedelta(minutes=2))
    [p] = plan(T0, [job(1, 3, 24, interruptible=True)], forecast, None, options=options)
    assert all(b - a >= timedelta(hours=2) for a, b in p.segments) or len(p.segments) == 1


@pytest.mark.parametrize(
    ("margin", "error", "segments"),
    [(0.0, None, 2), (0.05, None, 2), (0.10, None, 1), (0.0, 0.05, 2), (0.0, 0.20, 1)],
)
def test_a_split_must_beat_one_window_by_the_margin(
    margin: float, error: float | None, segments: int
) -> None:
    # two 1-hour valleys at 100 among 150s, 1 kW: the best single 1.5 h window costs 175 g,
    # the split 160 g (96 min at 100, the overhead included): 8.6 % better. A stated error
    # of E asks for a margin of E/2.
    forecast = replace(hourly([150, 100, 150, 150, 100, 150, 150, 150]), error=error)
    options = PlanOptions(
        min_segment=timedelta(minutes=30),
        resume_overhead=timedelta(minutes=6),
        split_margin=margin,
    )
    [p] = plan(T0, [job(1, 1.5, 8, interruptible=True)], forecast, None, options=options)
    assert len(p.segments) == segments
    assert p.forecast_g == pytest.approx(160 if segments == 2 else 175)


def test_build_signal_marks_fallback_pieces() -> None:
    forecast = hourly([100, float("nan"), 300])
    fallback = hourly([250] * 10)
    signal = build_signal(T0, T0 + 4 * H, forecast, fallback)
    assert signal.intensity.edges.tolist() == [0, 3600, 7200, 10800, 14400]
    assert signal.intensity.values.tolist() == [100, 250, 300, 250]
    assert signal.fallback.values.tolist() == [0, 1, 0, 1]
    assert signal.intensity.tail == 250 and signal.fallback.tail == 1


# ---- properties -------------------------------------------------------------------------

jobs_strategy = st.lists(
    st.tuples(
        st.floats(0.1, 6),  # hours
        st.floats(0, 20),  # earliest offset, h
        st.floats(0.5, 30),  # slack, h
        st.integers(0, 3),  # gpus
        st.booleans(),  # interruptible
    ),
    min_size=1,
    max_size=12,
)
values_strategy = st.lists(st.floats(10, 900), min_size=48, max_size=48)


def _jobs(spec: list[tuple[float, float, float, int, bool]]) -> list[PlanJob]:
    return [
        PlanJob(i, h * 3600, 500, g, T0 + H * e, T0 + H * (e + h + s), interruptible=intr)
        for i, (h, e, s, g, intr) in enumerate(spec)
    ]


@given(spec=jobs_strategy, values=values_strategy)
@settings(max_examples=60, deadline=None)
def test_placements_respect_earliest_and_deadline_when_feasible(spec, values) -> None:  # type: ignore[no-untyped-def]
    placements = plan(T0, _jobs(spec), hourly(values), None)
    assert len(placements) == len(spec)
    by_id = {j.id: j for j in _jobs(spec)}
    for p in placements:
        j = by_id[p.job_id]
        assert not p.late  # unlimited capacity and slack >= 0: always feasible
        assert p.start >= j.earliest - timedelta(seconds=1)
        assert p.end <= j.deadline + timedelta(seconds=1)


@given(spec=jobs_strategy, values=values_strategy, capacity=st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_capacity_is_never_exceeded(spec, values, capacity) -> None:  # type: ignore[no-untyped-def]
    placements = plan(T0, _jobs(spec), hourly(values), capacity)
    gpus = {j.id: j.gpus for j in _jobs(spec)}
    step = timedelta(minutes=5)
    used: dict[int, int] = {}
    for p in placements:
        if gpus[p.job_id] > capacity:
            continue  # cannot run here at all; marked late
        for a, b in p.segments:
            first = int((a - T0) / step)
            last = -(-int((b - T0).total_seconds()) // int(step.total_seconds()))
            for slot in range(first, last):
                used[slot] = used.get(slot, 0) + gpus[p.job_id]
    assert max(used.values(), default=0) <= capacity
    assert {p.job_id for p in placements} == set(gpus)  # nothing dropped


@given(spec=jobs_strategy, values=values_strategy)
@settings(max_examples=60, deadline=None)
def test_perfect_forecast_free_capacity_never_worse_than_run_now(spec, values) -> None:  # type: ignore[no-untyped-def]
    for p in plan(T0, _jobs(spec), hourly(values), None):
        assert p.forecast_g <= p.run_now_g * (1 + 1e-9) + 1e-9


@given(
    takes=st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 6), st.integers(1, 3)), max_size=12
    ),
    queries=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 24)), max_size=12),
)
@settings(max_examples=80, deadline=None)
def test_busy_counts_stay_exact_as_reservations_come_in(takes, queries) -> None:  # type: ignore[no-untyped-def]
    # the planner keeps its busy-slot counts up to date lazily (`take` marks, `busy` recounts)
    line = Capacity(300.0, np.full(24, 4, dtype=np.int64), 4)
    for (first, length, gpus), (g, upto) in zip(takes, queries * 2, strict=False):
        line.busy(g, upto)  # count some of it before the reservation
        held = line.free[first : first + length]
        line.take(first, first + length, min(gpus, int(held.min())))
        for h in (1, 2, 3):
            expected = np.concatenate(([0], np.cumsum(line.free < h)))
            assert (line.busy(h, len(line.free))[: len(expected)] == expected).all()


@given(
    takes=st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 6), st.integers(1, 3)), max_size=12
    ),
    queries=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 23), st.integers(1, 24))),
)
@settings(max_examples=80, deadline=None)
def test_free_runs_stay_exact_as_reservations_come_in(takes, queries) -> None:  # type: ignore[no-untyped-def]
    # the planner keeps the runs of free slots per GPU count, dropping them when one breaks
    line = Capacity(300.0, np.full(24, 4, dtype=np.int64), 4)
    for (first, length, gpus), (g, a, n) in zip(takes, queries * 2, strict=False):
        line.free_runs(g, a * 300.0, min(24, a + n) * 300.0)  # cache some before the take
        held = line.free[first : first + length]
        line.take(first, first + length, min(gpus, int(held.min())))
        for h in (1, 2, 3):
            for lo, hi in ((0, 24), (a, min(24, a + n))):
                ok = [i for i in range(lo, hi) if line.free[i] >= h]
                runs = [(i, j) for i, j in _runs_of(ok)]
                starts, ends = line.free_runs(h, lo * 300.0, hi * 300.0)
                assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == runs


def _runs_of(slots: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in slots:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


@pytest.mark.parametrize("unit", ["GPU", "CPU slot"])
def test_a_late_job_names_the_capacity_it_waited_for(unit: str) -> None:
    """CPU-only jobs wait for a CPU slot, not a GPU: the reason says which."""
    forecast = hourly([100, 100, 100, 100])
    options = PlanOptions(unit=unit)
    first, second = plan(T0, [job(1, 2, 2), job(2, 2, 3)], forecast, 1, options=options)
    assert not first.late and second.late
    assert second.reason is not None and f"no 1 free {unit}(s)" in second.reason
