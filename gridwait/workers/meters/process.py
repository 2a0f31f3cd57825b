"""Estimates from the job's process tree (psutil): CPU-seconds and resident memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gridwait.clock import Clock
from gridwait.workers.meters.base import EnergyMeter, Reading


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its descendants: those alive, and those
    that ended and were waited for (in their parent's children_* times), so that a script
    job's finished child does not take its seconds with it."""
    import psutil

    total = 0.0
    for proc in _tree(pid):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss_bytes(pid: int) -> int:
    """Resident bytes of `pid` and its descendants."""
    import psutil

    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def system_cpu_seconds() -> float:
    """User + system CPU seconds of the whole host, all cores."""
    import psutil

    t = psutil.cpu_times()
    return float(t.user + t.system)


class CpuTimeMeter(EnergyMeter):
    """CPU-seconds of the job's process tree x watts per busy core: an estimate."""

    method = "estimated"

    def __init__(
        self,
        pid: int,
        watts_per_core: float,
        cpu_seconds: Callable[[int], float] = tree_cpu_seconds,
    ) -> None:
        self.pid, self.watts, self._cpu = pid, watts_per_core, cpu_seconds
        self._base = 0.0

    def _baseline(self) -> None:
        self._base = self._cpu(self.pid)

    def _measure(self) -> Reading:
        return (self._cpu(self.pid) - self._base) * self.watts, self.method


class RamMeter(EnergyMeter):
    """Resident memory of the job's process tree (GB) x watts per GB, integrated over
    the readings (trapezoid): an estimate, of this job, not of the host's RAM."""

    method = "estimated"

    def __init__(
        self,
        pid: int,
        watts_per_gb: float,
        clock: Clock,
        rss: Callable[[int], int] = tree_rss_bytes,
    ) -> None:
        self.pid, self.watts, self.clock, self._rss = pid, watts_per_gb, clock, rss
        self._joules = 0.0
        self._last = (0.0, 0.0)

    def _baseline(self) -> None:
        self._last = (self.clock.monotonic(), self._rss(self.pid) / 1e9)

    def _measure(self) -> Reading:
        now, gb = self.clock.monotonic(), self._rss(self.pid) / 1e9
        then, before = self._last
        self._joules += (now - then) * (gb + before) / 2 * self.watts
        self._last = (now, gb)
        return self._joules, self.method
