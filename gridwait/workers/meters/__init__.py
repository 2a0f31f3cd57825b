"""Energy meters behind one contract (`base`: what every meter promises).

`EnergyMeter.read()` returns the joules of its component since the meter was started
and the method that produced them, or `None` with the reason when it cannot measure:
never a silent 0. `RunMeter` combines one meter per component (GPU, CPU, RAM) into a
`Measurement`. Implementations, one module each:

- `nvml.NvmlCounterMeter`: the NVML total-energy counter of exactly the job's GPUs
  (CUDA_VISIBLE_DEVICES mapped to device UUIDs); Volta and newer.
- `nvml.NvmlPowerMeter`: integrates NVML power readings polled in a thread, where the
  counter is not supported (older GPUs, many vGPUs).
- `rapl.RaplMeter`: /sys/class/powercap package counters (wrap-around handled),
  attributed to the job by its process tree's share of all CPU time.
- `process.CpuTimeMeter`, `process.RamMeter`: estimates (CPU-seconds x W per core; GB
  resident x W per GB) from the job's process tree (psutil).
- `fake.FakeMeter`: constant watts on a given clock, for tests (shipped, like Zeus's).
- `base.Unavailable`: a component that cannot be measured, and why.

`run` chooses them for a host and composes them (`build_run_meter`).
"""

from __future__ import annotations

from gridwait.workers.meters.base import EnergyMeter, Measurement, Reading, Unavailable
from gridwait.workers.meters.fake import FakeMeter
from gridwait.workers.meters.nvml import (
    NvmlCounterMeter,
    NvmlPowerMeter,
    nvml_meter,
    visible_gpu_indices,
)
from gridwait.workers.meters.process import (
    CpuTimeMeter,
    RamMeter,
    system_cpu_seconds,
    tree_cpu_seconds,
    tree_rss_bytes,
)
from gridwait.workers.meters.rapl import RaplMeter, packages
from gridwait.workers.meters.run import RunMeter, build_run_meter, cpu_meter

__all__ = [
    "CpuTimeMeter",
    "EnergyMeter",
    "FakeMeter",
    "Measurement",
    "NvmlCounterMeter",
    "NvmlPowerMeter",
    "RamMeter",
    "RaplMeter",
    "Reading",
    "RunMeter",
    "Unavailable",
    "build_run_meter",
    "cpu_meter",
    "nvml_meter",
    "packages",
    "system_cpu_seconds",
    "tree_cpu_seconds",
    "tree_rss_bytes",
    "visible_gpu_indices",
]
