"""The one source of "now".

Everything else takes time as an argument. Services ask a `Clock`; pure code (planner,
estimators) receives `now`. Two time lines exist and are kept apart:

- *domain time* (`Clock.now()`): the UTC time jobs, forecasts and records live in. On a
  simulated clock it runs `factor` times faster than real time, so hours pass in seconds.
- *real time* (`Clock.monotonic()`, `Clock.sleep()`): elapsed seconds on this machine, for
  timeouts and sampling periods. A real second is `factor` domain seconds.

A clock can be written as a string (`describe()` / `parse_clock()`) so that a worker process
started by the service shares the service's simulated time line.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from gridwait.errors import ConfigError


class Clock(Protocol):
    @property
    def factor(self) -> float:
        """Domain seconds per real second (1 for the system clock)."""

    def now(self) -> datetime:
        """Domain time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Real seconds from an arbitrary origin, never going backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` of real time."""

    def describe(self) -> str:
        """A string `parse_clock` turns back into an equivalent clock."""

    def real_now(self) -> datetime:
        """Real (wall) UTC time, for timers that fire in real time."""


class SystemClock:
    factor = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def describe(self) -> str:
        return "system"

    def real_now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Domain time = origin + (real time since wall_origin) x factor.

    `wall_origin` is a Unix time so that other processes reconstruct the same time line.
    """

    def __init__(self, origin: datetime, factor: float, wall_origin: float | None = None) -> None:
        if factor <= 0:
            raise ConfigError(f"clock: factor must be positive, got {factor}")
        self.origin = as_utc(origin)
        self._factor = float(factor)
        self.wall_origin = time.time() if wall_origin is None else wall_origin

    @property
    def factor(self) -> float:
        return self._factor

    def now(self) -> datetime:
        elapsed = (time.time() - self.wall_origin) * self._factor
        return self.origin + timedelta(seconds=elapsed)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def describe(self) -> str:
        return f"sim:{self._factor:g}@{self.origin.isoformat()}@{self.wall_origin!r}"

    def real_now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and backtests."""

    def __init__(self, start: datetime, factor: float = 1.0) -> None:
        self._now = as_utc(start)
        self._mono = 0.0
        self._factor = factor

    @property
    def factor(self) -> float:
        return self._factor

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move real time by `seconds` (domain time by seconds x factor)."""
        self._mono += seconds
        self._now += timedelta(seconds=seconds * self._factor)

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def describe(self) -> str:
        return f"manual@{self._now.isoformat()}"

    def real_now(self) -> datetime:
        return self._now


MAX_FACTOR = 1e6
"""A simulated week passes in 0.6 s: faster and a single poll outruns the horizon."""


def parse_clock(spec: str, base: Clock | None = None) -> Clock:
    """`system`, `sim:FACTOR` (starting now), or `sim:FACTOR@ORIGIN[@WALL]` as `describe` writes."""
    if spec in ("", "system"):
        return SystemClock()
    if not spec.startswith("sim:"):
        raise ConfigError(f"clock: expected 'system' or 'sim:FACTOR', got {spec!r}")
    parts = spec[4:].split("@")
    try:
        factor = float(parts[0])
        origin = datetime.fromisoformat(parts[1]) if len(parts) > 1 else None
        wall = float(parts[2]) if len(parts) > 2 else None
    except ValueError as exc:
        raise ConfigError(f"clock: cannot read {spec!r}: {exc}") from None
    if not 0 < factor <= MAX_FACTOR:  # also refuses nan and inf
        raise ConfigError(
            f"clock: the factor must be above 0 and at most {MAX_FACTOR:g}, got {parts[0]!r}"
        )
    if origin is not None and origin.tzinfo is None:
        raise ConfigError(f"clock: origin in {spec!r} needs a UTC offset")
    start = origin if origin is not None else (base or SystemClock()).now()
    return SimulatedClock(start, factor, wall)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC. Naive datetimes are refused: their zone is a guess."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)
