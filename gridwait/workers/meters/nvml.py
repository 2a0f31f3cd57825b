"""NVIDIA GPUs through NVML (nvidia-ml-py): the energy counter, or integrated power."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from gridwait.clock import Clock
from gridwait.workers.meters.base import EnergyMeter, Reading, Unavailable


def visible_gpu_indices(environ: Mapping[str, str] | None = None) -> list[str]:
    """The job's GPUs as CUDA_VISIBLE_DEVICES lists them (indices or UUIDs)."""
    value = (os.environ if environ is None else environ).get("CUDA_VISIBLE_DEVICES", "")
    return [v.strip() for v in value.split(",") if v.strip()]


class NvmlCounterMeter(EnergyMeter):
    """Sum of the NVML energy counters (mJ since driver load) of the given devices."""

    method = "nvml_counter"

    def __init__(self, nvml: Any, handles: Sequence[Any]) -> None:
        self.nvml, self.handles = nvml, list(handles)
        self._base: list[int] = []

    def _counters(self) -> list[int]:
        return [self.nvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles]

    def _baseline(self) -> None:
        self._base = self._counters()

    def _measure(self) -> Reading:
        now = self._counters()
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
        """Take one power sample and add the trapezoid since the previous one."""
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

    def _baseline(self) -> None:
        self.poll()
        self._thread.start()

    def _measure(self) -> Reading:
        self.poll()
        with self._lock:
            return self._joules, self.method

    def _release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * self.period)


def nvml_meter(
    clock: Clock, environ: Mapping[str, str] | None = None, nvml: Any = None
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
        handles = _handles(nvml, visible_gpu_indices(environ))
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


def _handles(nvml: Any, wanted: list[str]) -> list[Any]:
    """Device handles for CUDA_VISIBLE_DEVICES entries (all devices when it is empty)."""
    if not wanted:
        wanted = [str(i) for i in range(nvml.nvmlDeviceGetCount())]
    return [
        nvml.nvmlDeviceGetHandleByUUID(w)
        if w.startswith(("GPU-", "MIG-"))
        else nvml.nvmlDeviceGetHandleByIndex(int(w))
        for w in wanted
    ]
