"""Intel/AMD RAPL package counters under /sys/class/powercap, attributed to the job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gridwait.errors import MeterError
from gridwait.workers.meters.base import EnergyMeter, Reading
from gridwait.workers.meters.process import system_cpu_seconds, tree_cpu_seconds

POWERCAP = Path("/sys/class/powercap")


class RaplMeter(EnergyMeter):
    """Package energy from /sys/class/powercap, times the job's share of CPU time.

    The counters are per socket and wrap at max_energy_range_uj; a read that went down
    has wrapped once (reads are seconds apart, a wrap takes minutes at full power).
    Raises `MeterError` when there is no package domain or a counter cannot be read."""

    method = "rapl"

    def __init__(
        self,
        pid: int,
        root: Path = POWERCAP,
        cpu_seconds: Callable[[int], float] = tree_cpu_seconds,
        system_seconds: Callable[[], float] = system_cpu_seconds,
    ) -> None:
        self.pid, self._cpu, self._system = pid, cpu_seconds, system_seconds
        self.domains = packages(root)
        if not self.domains:
            raise MeterError(f"no RAPL package domains under {root}")
        self._ranges = [_read_int(d / "max_energy_range_uj") for d in self.domains]
        self._last: list[int] = []
        self._joules = 0.0
        self._cpu_last = self._sys_last = 0.0

    def _baseline(self) -> None:
        self._last = [_read_int(d / "energy_uj") for d in self.domains]
        self._cpu_last, self._sys_last = self._cpu(self.pid), self._system()

    def _measure(self) -> Reading:
        now = [_read_int(d / "energy_uj") for d in self.domains]
        package_uj = sum(
            after - before if after >= before else after + top - before
            for before, after, top in zip(self._last, now, self._ranges, strict=True)
        )
        cpu, system = self._cpu(self.pid), self._system()
        share = (
            (cpu - self._cpu_last) / (system - self._sys_last) if system > self._sys_last else 0.0
        )
        self._joules += package_uj / 1e6 * min(1.0, max(0.0, share))
        self._last, self._cpu_last, self._sys_last = now, cpu, system
        return self._joules, self.method


def packages(root: Path) -> list[Path]:
    """Package domains (intel-rapl:N with name package-N), not their sub-domains."""
    if not root.is_dir():
        return []
    found = []
    for domain in sorted(root.glob("intel-rapl:*")):
        name = domain / "name"
        if (
            domain.name.count(":") == 1
            and name.is_file()
            and name.read_text().startswith("package")
        ):
            found.append(domain)
    return found


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except PermissionError:
        raise MeterError(
            f"{path} is not readable (RAPL needs root since Linux 5.10; see README)"
        ) from None
    except (OSError, ValueError) as exc:
        raise MeterError(f"cannot read {path}: {exc}") from None
