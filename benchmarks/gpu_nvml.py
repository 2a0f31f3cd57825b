"""The NVML side of the GPU check: both GPU energy methods on one run, the device's
identity and clocks, and its idle power. Every NVML call goes through the `nvml` object
passed in (the pynvml module, or an autospec mock in tests)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from gridwait.clock import Clock
from gridwait.workers.meters import (
    EnergyMeter,
    NvmlCounterMeter,
    NvmlPowerMeter,
    Reading,
    nvml_meter,
)


class DualGpuMeter(EnergyMeter):
    """The NVML counter (what the run records) with the power integration read beside it
    at every read, both started and read together: two methods on the same joules.

    A stand-in for a gridwait meter that reports a second method; `shadow` holds the
    integration's last reading."""

    def __init__(self, counter: NvmlCounterMeter, power: NvmlPowerMeter) -> None:
        self.counter, self.power = counter, power
        self.method = counter.method
        self.shadow: Reading = (None, "unavailable: not read yet")

    def _baseline(self) -> None:
        self.counter.start()
        self.power.start()

    def _measure(self) -> Reading:
        reading = self.counter.read()
        self.shadow = self.power.read()
        return reading

    def _release(self) -> None:
        self.counter.close()
        self.power.close()


def dual_meter(nvml: Any, handles: Sequence[Any], clock: Clock) -> DualGpuMeter:
    return DualGpuMeter(NvmlCounterMeter(nvml, handles), NvmlPowerMeter(nvml, handles, clock))


class Probe:
    """Direct reads of the job's GPUs, for what the meters do not report."""

    def __init__(self, nvml: Any, handles: Sequence[Any]) -> None:
        self.nvml, self.handles = nvml, list(handles)

    def joules(self) -> float:
        """Sum of the energy counters, J since the driver loaded."""
        return (
            float(sum(self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles)) / 1e3
        )

    def watts(self) -> float:
        return float(sum(self.nvml.nvmlDeviceGetPowerUsage(h) for h in self.handles)) / 1e3

    def sm_mhz(self) -> int:
        return int(self.nvml.nvmlDeviceGetClockInfo(self.handles[0], self.nvml.NVML_CLOCK_SM))


def _value(call: Callable[[], Any], scale: float | None = None) -> Any:
    """The call's result (bytes decoded, scaled), or 'unavailable: why'."""
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001  (NVMLError and its many subclasses)
        return f"unavailable: {type(exc).__name__}: {exc}"
    if isinstance(value, bytes):
        value = value.decode()
    return round(value * scale, 1) if scale is not None else value


def clocks(nvml: Any, handle: Any) -> dict[str, Any]:
    """Current and maximum SM and memory clocks, MHz."""
    sm, mem = nvml.NVML_CLOCK_SM, nvml.NVML_CLOCK_MEM
    return {
        "sm_mhz": _value(lambda: nvml.nvmlDeviceGetClockInfo(handle, sm)),
        "mem_mhz": _value(lambda: nvml.nvmlDeviceGetClockInfo(handle, mem)),
        "max_sm_mhz": _value(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, sm)),
        "max_mem_mhz": _value(lambda: nvml.nvmlDeviceGetMaxClockInfo(handle, mem)),
    }


def gpu_info(nvml: Any, handle: Any) -> dict[str, Any]:
    """What the device is and how it is set: model, driver, power limits, memory."""
    return {
        "name": _value(lambda: nvml.nvmlDeviceGetName(handle)),
        "driver": _value(nvml.nvmlSystemGetDriverVersion),
        "cuda_driver": _value(nvml.nvmlSystemGetCudaDriverVersion),
        "power_limit_w": _value(lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle), 1e-3),
        "default_power_limit_w": _value(
            lambda: nvml.nvmlDeviceGetPowerManagementDefaultLimit(handle), 1e-3
        ),
        "memory_gib": _value(lambda: nvml.nvmlDeviceGetMemoryInfo(handle).total / 2**30),
        "temperature_c": _value(
            lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
        ),
        "counter_supported": not str(
            _value(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        ).startswith("unavailable"),
    }


def idle_power(probe: Probe, clock: Clock, seconds: float, period: float = 0.1) -> dict[str, Any]:
    """Mean power over `seconds` of doing nothing: by the counter and by power readings."""
    began, first = clock.monotonic(), probe.joules()
    readings = []
    while clock.monotonic() - began < seconds:
        readings.append(probe.watts())
        clock.sleep(period)
    elapsed, last = clock.monotonic() - began, probe.joules()
    return {
        "seconds": round(elapsed, 2),
        "counter_w": round((last - first) / elapsed, 1) if elapsed > 0 else None,
        "power_w": round(statistics.mean(readings), 1) if readings else None,
        "readings": len(readings),
    }


def open_nvml(clock: Clock, nvml: Any = None) -> tuple[Any, list[Any]] | str:
    """(the NVML library, the job's device handles) as gridwait's own meter selection
    finds them (CUDA_VISIBLE_DEVICES), or why not."""
    meter = nvml_meter(clock, nvml=nvml)
    if isinstance(meter, NvmlCounterMeter | NvmlPowerMeter):
        return meter.nvml, meter.handles
    return meter.method
