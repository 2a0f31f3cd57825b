from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from gridwait.clock import ManualClock, SimulatedClock, SystemClock, as_utc, parse_clock
from gridwait.errors import ConfigError


def test_system_clock_is_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_simulated_clock_runs_faster_and_round_trips() -> None:
    origin = datetime(2021, 7, 1, tzinfo=UTC)
    clock = SimulatedClock(origin, 3600, wall_origin=time.time() - 2)
    elapsed = clock.now() - origin
    assert timedelta(hours=1.9) < elapsed < timedelta(hours=2.5)
    twin = parse_clock(clock.describe())
    assert isinstance(twin, SimulatedClock)
    assert abs((twin.now() - clock.now()).total_seconds()) < 60
    assert twin.factor == 3600


def test_parse_clock_starting_now() -> None:
    base = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock = parse_clock("sim:60", base)
    assert abs((clock.now() - base.now()).total_seconds()) < 60


@pytest.mark.parametrize("spec", ["fast", "sim:x", "sim:-1", "sim:10@2021-01-01T00:00"])
def test_bad_clock_specs(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_clock(spec)


def test_manual_clock_advances_both_lines() -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC), factor=10)
    clock.advance(3)
    assert clock.monotonic() == 3
    assert clock.now() == datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        as_utc(datetime(2026, 1, 1))
