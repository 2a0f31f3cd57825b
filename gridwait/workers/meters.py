"""Energy meters behind one contract.

`EnergyMeter.read()` returns the joules of its component since the meter was started
and the method that produced them, or `None` with the reason when it cannot measure:
never a silent 0. `RunMeter` combines one meter per component (GPU, CPU, RAM) into a
`Measurement`. Implementations:

- `NvmlCounterMeter`: the NVML total-energy counter of exactly the job's GPUs
  (CUDA_VISIBLE_DEVICES mapped to device UUIDs); Volta and newer.
- `NvmlPowerMeter`: integrates NVML power readings polled in a thread, where the counter
  is not supported (older GPUs, many vGPUs).
- `RaplMeter`: /sys/class/powercap package counters (wrap-around handled), attributed to
  the job by its process tree's share of all CPU time.
- `CpuTimeMeter`, `RamMeter`: estimates (CPU-seconds x W per core; GB resident x W per GB).
- `FakeMeter`: constant watts on a given clock, for tests (shipped, like Zeus's).
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridwait.clock import Clock
from gridwait.errors import MeterError

Reading = tuple[float | None, str]
"""(joules since start or None, method or 'unavailable: why')"""


@dataclass(frozen=True)
class Measurement:
    """Cumulative joules per component since the run started (IT energy, no PUE)."""

    mono_s: float
    """Real seconds (monotonic) when read."""
    gpu_j: float | None
    cpu_j: float | None
    ram_j: float | None
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None

    @property
    def it_j(self) -> float:
        return sum(j for j in (self.gpu_j, self.cpu_j, self.ram_j) if j is not None)


class EnergyMeter(ABC):
    """Joules of one component since `start()`."""

    method: str

    def start(self) -> None:  # noqa: B027  (most meters need no baseline)
        """Take the baseline. Called once before the first read."""

    @abstractmethod
    def read(self) -> Reading:
        """Joules since start and the method; (None, 'unavailable: ...') if it cannot."""

    def close(self) -> None:  # noqa: B027  (most meters hold nothing)
        """Stop any thread or library session."""


class FakeMeter(EnergyMeter):
    """Constant `watts` on `clock` (real seconds): deterministic energy for tests."""

    def __init__(self, watts: float, clock: Clock, method: str = "estimated") -> None:
        self.watts, self.clock, self.method = watts, clock, method
        self._t0 = clock.monotonic()

    def start(self) -> None:
        self._t0 = self.clock.monotonic()

    def read(self) -> Reading:
        return self.watts * (self.clock.monotonic() - self._t0), self.method


class Unavailable(EnergyMeter):
    """A component that cannot be measured here, and why."""

    def __init__(self, reason: str) -> None:
        self.method = f"unavailable: {reason}"

    def read(self) -> Reading:
        return None, self.method


# ---- process tree ------------------------------------------------------------------------


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def tree_cpu_seconds(pid: int) -> float:
    import psutil

    total = 0.0
    for proc in _tree(pid):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def tree_rss_bytes(pid: int) -> int:
    import psutil

    total = 0
    for proc in _tree(pid):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


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

    def start(self) -> None:
        self._base = self._cpu(self.pid)

    def read(self) -> Reading:
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
        self._last: tuple[float, float] | None = None

    def start(self) -> None:
        self._last = (self.clock.monotonic(), self._rss(self.pid) / 1e9)

    def read(self) -> Reading:
        now, gb = self.clock.monotonic(), self._rss(self.pid) / 1e9
        if self._last is not None:
            then, before = self._last
            self._joules += (now - then) * (gb + before) / 2 * self.watts
        self._last = (now, gb)
        return self._joules, self.method


# ---- RAPL ------------------------------------------------------------------------------------


class RaplMeter(EnergyMeter):
    """Package energy from /sys/class/powercap, times the job's share of CPU time.

    The counters are per socket and wrap at max_energy_range_uj; a read that went down
    has wrapped once (reads are seconds apart, a wrap takes minutes at full power)."""

    method = "rapl"

    def __init__(
        self,
        pid: int,
        root: Path = Path("/sys/class/powercap"),
        cpu_seconds: Callable[[int], float] = tree_cpu_seconds,
        system_seconds: Callable[[], float] | None = None,
    ) -> None:
        self.pid, self._cpu = pid, cpu_seconds
        self._system = system_seconds or _system_cpu_seconds
        self.domains = packages(root)
        if not self.domains:
            raise MeterError(f"no RAPL package domains under {root}")
        self._last: list[int] = []
        self._ranges = [_read_int(d / "max_energy_range_uj") for d in self.domains]
        self._joules = 0.0
        self._cpu_last = self._sys_last = 0.0

    def start(self) -> None:
        self._last = [_read_int(d / "energy_uj") for d in self.domains]
        self._cpu_last, self._sys_last = self._cpu(self.pid), self._system()

    def read(self) -> Reading:
        now = [_read_int(d / "energy_uj") for d in self.domains]
        package_uj = 0
        for i, (before, after) in enumerate(zip(self._last, now, strict=True)):
            package_uj += after - before if after >= before else after + self._ranges[i] - before
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


def _system_cpu_seconds() -> float:
    import psutil

    t = psutil.cpu_times()
    return float(t.user + t.system)


# ---- NVML ------------------------------------------------------------------------------------


def visible_gpu_indices(environ: dict[str, str] | None = None) -> list[str]:
    """The job's GPUs as CUDA_VISIBLE_DEVICES lists them (indices or UUIDs)."""
    value = (environ if environ is not None else dict(os.environ)).get("CUDA_VISIBLE_DEVICES", "")
    return [v.strip() for v in value.split(",") if v.strip()]


class NvmlCounterMeter(EnergyMeter):
    """Sum of the NVML energy counters (mJ since driver load) of the given devices."""

    method = "nvml_counter"

    def __init__(self, nvml: Any, handles: Sequence[Any]) -> None:
        self.nvml, self.handles = nvml, list(handles)
        self._base: list[int] = []

    def start(self) -> None:
        self._base = [self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]

    def read(self) -> Reading:
        now = [self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]
        return sum(a - b for a, b in zip(now, self._base, strict=True)) / 1000.0, self.method


class NvmlPowerMeter(EnergyMeter):
    """Power polled every `period` seconds in a thread and integrated (trapezoid)."""

    method = "nvml_power"

    def __init__(
        self, nvml: Any, handles: Sequence[Any], clock: Clock, period: float = 0.5
    ) -> None:
        self.nvml, self.handles, self.clock, self.period = nvml, list(handles), clock, period
        self._joules = 0.0
        self._last: tuple[float, float] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nvml-power", daemon=True)

    def _watts(self) -> float:
        return float(sum(self.nvml.nvmlDeviceGetPowerUsage(h) for h in self.handles)) / 1000.0

    def poll(self) -> None:
        now, watts = self.clock.monotonic(), self._watts()
        with self._lock:
            if self._last is not None:
                then, before = self._last
                self._joules += (now - then) * (watts + before) / 2
            self._last = (now, watts)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.poll()
            except self.nvml.NVMLError:
                continue  # a missed sample is bridged by the next one

    def start(self) -> None:
        self.poll()
        self._thread.start()

    def read(self) -> Reading:
        self.poll()
        with self._lock:
            return self._joules, self.method

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.period)


def nvml_meter(
    clock: Clock, environ: dict[str, str] | None = None, nvml: Any = None
) -> EnergyMeter:
    """The best NVML meter for the job's GPUs, or Unavailable with the reason."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return Unavailable("nvidia-ml-py is not installed")
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return Unavailable(f"NVML: {exc}")
    try:
        wanted = visible_gpu_indices(environ)
        if not wanted:
            wanted = [str(i) for i in range(nvml.nvmlDeviceGetCount())]
        handles = [
            nvml.nvmlDeviceGetHandleByUUID(w)
            if w.startswith(("GPU-", "MIG-"))
            else nvml.nvmlDeviceGetHandleByIndex(int(w))
            for w in wanted
        ]
        if not handles:
            return Unavailable("NVML sees no GPU")
        try:
            for h in handles:
                nvml.nvmlDeviceGetTotalEnergyConsumption(h)
        except nvml.NVMLError_NotSupported:
            return NvmlPowerMeter(nvml, handles, clock)
        return NvmlCounterMeter(nvml, handles)
    except (nvml.NVMLError, ValueError) as exc:
        return Unavailable(f"NVML: {exc}")


# ---- the run's meter --------------------------------------------------------------------------


class RunMeter:
    """One meter per component; `read()` gives a Measurement with the methods."""

    def __init__(
        self, clock: Clock, gpu: EnergyMeter | None, cpu: EnergyMeter, ram: EnergyMeter
    ) -> None:
        self.clock, self.gpu, self.cpu, self.ram = clock, gpu, cpu, ram

    def start(self) -> None:
        for meter in self._meters():
            meter.start()

    def _meters(self) -> list[EnergyMeter]:
        return [m for m in (self.gpu, self.cpu, self.ram) if m is not None]

    def read(self) -> Measurement:
        gpu = self.gpu.read() if self.gpu is not None else (None, None)
        cpu, ram = self.cpu.read(), self.ram.read()
        return Measurement(self.clock.monotonic(), gpu[0], cpu[0], ram[0], gpu[1], cpu[1], ram[1])

    def close(self) -> None:
        for meter in self._meters():
            meter.close()


def cpu_meter(
    pid: int, watts_per_core: float, root: Path = Path("/sys/class/powercap")
) -> EnergyMeter:
    """RAPL where it is readable, else the CPU-time estimate (the reason kept in the method)."""
    try:
        meter = RaplMeter(pid, root)
        meter.start()
        meter.read()
        return meter
    except MeterError as exc:
        estimate = CpuTimeMeter(pid, watts_per_core)
        if packages(root):  # RAPL exists but failed: say why in the method
            estimate.method = f"estimated ({exc})"
        return estimate


def build_run_meter(
    pid: int, gpus: int, clock: Clock, watts_per_core: float, watts_per_gb: float
) -> RunMeter:
    gpu = nvml_meter(clock) if gpus > 0 else None
    return RunMeter(clock, gpu, cpu_meter(pid, watts_per_core), RamMeter(pid, watts_per_gb, clock))
