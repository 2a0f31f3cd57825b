"""A meter for tests, shipped in the package (like Zeus's ReplayZeusMonitor)."""

from __future__ import annotations

from gridwait.clock import Clock
from gridwait.workers.meters.base import EnergyMeter, Reading


class FakeMeter(EnergyMeter):
    """Constant `watts` on `clock` (real seconds): deterministic energy for tests."""

    def __init__(self, watts: float, clock: Clock, method: str = "estimated") -> None:
        self.watts, self.clock, self.method = watts, clock, method
        self._t0 = 0.0

    def _baseline(self) -> None:
        self._t0 = self.clock.monotonic()

    def _measure(self) -> Reading:
        return self.watts * (self.clock.monotonic() - self._t0), self.method
