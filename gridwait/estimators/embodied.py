"""Embodied carbon: the hardware's manufacturing emissions, amortised over the hours of
its life it is in use (ACT, Gupta et al. ISCA'22: CF = OP + (T / LT) x E).

A GPU row's kilograms are the device plus its share of the host server (1/8 of an
8-GPU server); a CPU row's are its cores' share of a server's. One basis for every row:
Boavizta e-footprint's `GPUServer` defaults, which cite the BLOOM life-cycle study
(Luccioni et al., JMLR 2023): 150 kgCO2e per GPU, 2,500 kgCO2e per server without its
GPUs, a 6-year life at 85 % use. That gives 10.3 gCO2e per A100-hour, matching BLOOM's
11.2 t over 1,083,000 GPU-hours. No device-specific life-cycle figure exists for most
rows, so they share this basis and say so; a lab with better numbers sets them in
`[footprint]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gridwait.errors import EstimateError
from gridwait.estimators.hardware import GPUS, lookup

HOURS_PER_YEAR = 8760.0
GPU_KG = 150.0
SERVER_KG = 2500.0
"""A GPU server's embodied kgCO2e without its GPUs."""
GPUS_PER_SERVER = 8
CORES_PER_SERVER = 64
"""The cores a server's 2,500 kg are shared over for CPU-only work (two 32-core
sockets, as in the BLOOM nodes' host): an assumption, stated in every CPU row's source."""
LIFETIME_YEARS = 6.0
UTILISATION = 0.85
BASIS = (
    "Boavizta e-footprint GPUServer defaults citing Luccioni et al., JMLR 2023 (BLOOM LCA):"
    " 150 kg per GPU, 2,500 kg per server without GPUs, 6-year life, 85 % use"
)
METHOD = "amortised"


@dataclass(frozen=True)
class Embodied:
    """One device's manufacturing emissions and how they are spread over its life."""

    kg: float
    """kgCO2e of the device and its share of the host."""
    lifetime_years: float
    utilisation: float
    """Share of its life the device is in use (reserved by some job)."""
    source: str

    @property
    def g_per_hour(self) -> float:
        """gCO2e per hour of use: kg x 1000 / (life hours x utilisation)."""
        return self.kg * 1000 / (self.lifetime_years * HOURS_PER_YEAR * self.utilisation)


def at_rate(g_per_hour: float, source: str) -> Embodied:
    """A row given directly in gCO2e per hour of use (as one year's kilograms at full use)."""
    return Embodied(g_per_hour * HOURS_PER_YEAR / 1000, 1.0, 1.0, source)


def _gpu_row() -> Embodied:
    share = SERVER_KG / GPUS_PER_SERVER
    return Embodied(
        GPU_KG + share,
        LIFETIME_YEARS,
        UTILISATION,
        f"{BASIS}; per GPU: 150 kg + 1/8 of the server ({share:g} kg)",
    )


def _cpu_row(cores: int) -> Embodied:
    kg = SERVER_KG * cores / CORES_PER_SERVER
    return Embodied(
        kg,
        LIFETIME_YEARS,
        UTILISATION,
        f"{BASIS}; {cores} of a server's {CORES_PER_SERVER} cores ({kg:.0f} kg, assumed share)",
    )


GPU_EMBODIED = {name: _gpu_row() for name in GPUS}
"""Every GPU row of the hardware table on the one documented basis."""

_CORES = re.compile(r"(?:^cpu-(\d+)c$)|(?: x(\d+)$)")


def embodied_for(hardware: str) -> Embodied:
    """The embodied row of a hardware name as runs store it (a GPU table row, an NVML
    name, `cpu-16c`, or a detected `cpu:MODEL xN`); EstimateError when unknown."""
    match = _CORES.search(hardware)
    if match and hardware.startswith("cpu"):
        return _cpu_row(int(match.group(1) or match.group(2)))
    row = lookup(hardware)
    if row.kind == "cpu":
        return _cpu_row(row.cores)
    return GPU_EMBODIED[row.name]


def devices(hardware: str, gpus: int) -> int:
    """How many table units a run holds: its GPUs, or the one CPU machine."""
    if gpus > 0 and not hardware.startswith("cpu"):
        return gpus
    return 1


def embodied_grams(row: Embodied, units: int, seconds: float) -> float:
    """gCO2e of `units` devices held for `seconds`."""
    if seconds < 0 or units < 0:
        raise EstimateError(f"embodied carbon of {units} device(s) for {seconds:g} s")
    return row.g_per_hour * units * seconds / 3600
