"""The run's meter: one `EnergyMeter` per component, chosen for this host."""

from __future__ import annotations

from pathlib import Path

from gridwait.clock import Clock
from gridwait.errors import MeterError
from gridwait.workers.meters.base import EnergyMeter, Measurement
from gridwait.workers.meters.nvml import nvml_meter
from gridwait.workers.meters.process import CpuTimeMeter, RamMeter
from gridwait.workers.meters.rapl import POWERCAP, RaplMeter, packages


class RunMeter:
    """One meter per component; `read()` gives a Measurement with the methods.

    Keeps its components' contract: `start()` once, `read()` between `start()` and
    `close()` (else `MeterError`), `close()` any number of times."""

    def __init__(
        self, clock: Clock, gpu: EnergyMeter | None, cpu: EnergyMeter, ram: EnergyMeter
    ) -> None:
        self.clock, self.gpu, self.cpu, self.ram = clock, gpu, cpu, ram

    def _meters(self) -> list[EnergyMeter]:
        return [m for m in (self.gpu, self.cpu, self.ram) if m is not None]

    def start(self) -> None:
        for meter in self._meters():
            meter.start()

    def read(self) -> Measurement:
        gpu = self.gpu.read() if self.gpu is not None else (None, None)
        cpu, ram = self.cpu.read(), self.ram.read()
        return Measurement(self.clock.monotonic(), gpu[0], cpu[0], ram[0], gpu[1], cpu[1], ram[1])

    def close(self) -> None:
        for meter in self._meters():
            meter.close()


def cpu_meter(pid: int, watts_per_core: float, root: Path = POWERCAP) -> EnergyMeter:
    """RAPL where it is readable, else the CPU-time estimate (the reason kept in the method).

    The meter returned is not started; RAPL is tried on a separate probe."""
    try:
        probe = RaplMeter(pid, root)
        probe.start()
        probe.read()
        probe.close()
        return RaplMeter(pid, root)
    except MeterError as exc:
        estimate = CpuTimeMeter(pid, watts_per_core)
        if packages(root):  # RAPL exists but failed: say why in the method
            estimate.method = f"estimated ({exc})"
        return estimate


def build_run_meter(
    pid: int, gpus: int, clock: Clock, watts_per_core: float, watts_per_gb: float
) -> RunMeter:
    """The run's meter on this host: NVML for the job's GPUs (if it has any), RAPL or a
    CPU-time estimate for the CPU, a resident-memory estimate for RAM. Not started."""
    gpu = nvml_meter(clock) if gpus > 0 else None
    return RunMeter(clock, gpu, cpu_meter(pid, watts_per_core), RamMeter(pid, watts_per_gb, clock))
