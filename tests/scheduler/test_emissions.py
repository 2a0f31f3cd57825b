"""The emissions integral: exact over partial periods, with property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.emissions import constant_power, integrate, shifted

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def series(values: list[float], minutes: int = 30) -> IntensitySeries:
    return IntensitySeries(
        "Z",
        "test",
        "average",
        "actual",
        T0,
        timedelta(minutes=minutes),
        np.array(values, dtype=float),
    )


def test_partial_periods_by_hand() -> None:
    # 1 kWh spread evenly from 00:15 to 01:15 over periods 100, 200, 300 g/kWh (30 min each)
    s = series([100, 200, 300])
    samples = constant_power(T0 + timedelta(minutes=15), 3600, 3.6e6)
    expected = 0.25 * 100 + 0.5 * 200 + 0.25 * 300
    assert integrate(samples, s) == pytest.approx(expected)


def test_uneven_samples() -> None:
    s = series([100, 300], minutes=60)
    samples = [
        (T0, 0.0),
        (T0 + timedelta(minutes=30), 3.6e6),
        (T0 + timedelta(minutes=90), 3.6e6 * 2),
    ]
    assert integrate(samples, s) == pytest.approx(100 + 0.5 * 100 + 0.5 * 300)


times = st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=20)
energies = st.lists(st.floats(min_value=0, max_value=1e6), min_size=20, max_size=20)


def _samples(gaps: list[int], joules: list[float]) -> list[tuple[datetime, float]]:
    out, when, total = [(T0 + timedelta(minutes=1), 0.0)], T0 + timedelta(minutes=1), 0.0
    for gap, energy in zip(gaps, joules, strict=False):
        when += timedelta(seconds=gap * 10)
        total += energy
        out.append((when, total))
    return out


@given(gaps=times, joules=energies, value=st.floats(min_value=0, max_value=2000))
@settings(max_examples=80, deadline=None)
def test_constant_intensity_gives_energy_times_intensity(
    gaps: list[int], joules: list[float], value: float
) -> None:
    samples = _samples(gaps, joules)
    s = series([value] * 400, minutes=5)
    assert integrate(samples, s) == pytest.approx(
        samples[-1][1] / 3.6e6 * value, rel=1e-9, abs=1e-9
    )


@given(
    gaps=times,
    joules=energies,
    cut=st.floats(min_value=0.01, max_value=0.99),
    which=st.integers(0, 19),
    values=st.lists(st.floats(0, 1000), min_size=400, max_size=400),
)
@settings(max_examples=80, deadline=None)
def test_splitting_a_sample_never_changes_the_total(
    gaps: list[int], joules: list[float], cut: float, which: int, values: list[float]
) -> None:
    samples = _samples(gaps, joules)
    s = series(values, minutes=5)
    i = which % (len(samples) - 1)
    (t0, e0), (t1, e1) = samples[i], samples[i + 1]
    middle = (t0 + (t1 - t0) * cut, e0 + (e1 - e0) * cut)
    split = [*samples[: i + 1], middle, *samples[i + 1 :]]
    assert integrate(split, s) == pytest.approx(integrate(samples, s), rel=1e-9, abs=1e-6)


@given(gaps=times, values=st.lists(st.floats(0, 1000), min_size=400, max_size=400))
@settings(max_examples=40, deadline=None)
def test_zero_energy_gives_zero(gaps: list[int], values: list[float]) -> None:
    samples = _samples(gaps, [0.0] * 20)
    assert integrate(samples, series(values, minutes=5)) == 0.0


def test_missing_intensity_is_nan_not_zero() -> None:
    s = series([100, float("nan"), 300])
    assert np.isnan(integrate(constant_power(T0, 5400, 3.6e6), s))


def test_shifted_profile_removes_pauses() -> None:
    start = T0 + timedelta(hours=5)
    samples = [
        (start, 0.0),
        (start + timedelta(hours=1), 10.0),
        (start + timedelta(hours=3), 10.0),
        (start + timedelta(hours=4), 20.0),
    ]
    pause = [(start + timedelta(hours=1), start + timedelta(hours=3))]
    moved = shifted(samples, T0, pause)
    assert [t - T0 for t, _ in moved] == [
        timedelta(0),
        timedelta(hours=1),
        timedelta(hours=1),
        timedelta(hours=2),
    ]
    assert [e for _, e in moved] == [0.0, 10.0, 10.0, 20.0]
