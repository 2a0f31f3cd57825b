"""A run's footprint beyond its operational emissions: embodied carbon of the devices it
held, for as long as it held them, and the water of its energy. Pure: a run's stored
numbers and the settings in, the columns to store out."""

from __future__ import annotations

import logging
from dataclasses import replace

from gridwait.config import FootprintSettings
from gridwait.errors import EstimateError
from gridwait.estimators.embodied import (
    METHOD,
    Embodied,
    at_rate,
    devices,
    embodied_for,
    embodied_grams,
)
from gridwait.estimators.water import grid_water, water
from gridwait.store.budgets import EmbodiedRate
from gridwait.store.models import Run

log = logging.getLogger(__name__)


def embodied_row(hardware: str, settings: FootprintSettings) -> Embodied:
    """The table's row for `hardware`, with the settings' overrides applied and named."""
    if settings.embodied_g_per_device_hour is not None:
        rate = settings.embodied_g_per_device_hour
        return at_rate(rate, f"{rate:g} g per device-hour (footprint.embodied_g_per_device_hour)")
    row = embodied_for(hardware)
    if settings.lifetime_years is None and settings.utilisation is None:
        return row
    life = settings.lifetime_years or row.lifetime_years
    use = settings.utilisation or row.utilisation
    return replace(
        row,
        lifetime_years=life,
        utilisation=use,
        source=f"{row.source}; re-amortised over {life:g} years at {use:.0%} use (settings)",
    )


def held_seconds(run: Run) -> float | None:
    """Real seconds the run held its devices: from its worker's start to its exit (start-up
    and checkpointing included)."""
    return run.duration_s


def embodied_columns(run: Run, gpus: int, settings: FootprintSettings) -> dict[str, object]:
    seconds = held_seconds(run)
    if run.hardware is None or seconds is None:
        return {
            "embodied_g": None,
            "embodied_method": None,
            "embodied_source": "no hardware or duration",
        }
    try:
        row = embodied_row(run.hardware, settings)
    except EstimateError as exc:
        return {"embodied_g": None, "embodied_method": None, "embodied_source": str(exc)}
    units = devices(run.hardware, gpus)
    how = f"{units} x {seconds / 3600:.3g} h x {row.g_per_hour:.3g} g/h"
    return {
        "embodied_g": embodied_grams(row, units, seconds),
        "embodied_method": METHOD,
        "embodied_source": f"{how}: {row.source}",
    }


def water_columns(run: Run, zone: str, settings: FootprintSettings) -> dict[str, object]:
    if run.energy_it_j is None:
        return {
            "water_l": None,
            "water_onsite_l": None,
            "water_grid_l": None,
            "water_method": "no energy measured",
        }
    facility = run.energy_facility_j if run.energy_facility_j is not None else run.energy_it_j
    grid = grid_water(zone, settings.grid_water_l_per_kwh)
    result = water(run.energy_it_j, facility, settings.wue_l_per_kwh, grid)
    return {
        "water_l": result.litres,
        "water_onsite_l": result.onsite_l,
        "water_grid_l": result.grid_l,
        "water_method": result.method,
    }


def footprint_columns(
    run: Run, gpus: int, zone: str, settings: FootprintSettings
) -> dict[str, object]:
    """The embodied and water columns of a run (store/models.py names them)."""
    return embodied_columns(run, gpus, settings) | water_columns(run, zone, settings)


ASSUMED_GPU = "A100-SXM"
ASSUMED_CPU = "cpu-16c"


def planned_rate(settings: FootprintSettings, hardware: str | None) -> EmbodiedRate:
    """gCO2e per hour of a planned job with `gpus` GPUs (0: a CPU job), for budgets that
    count the total before the job has run: the `[energy] hardware` row where it is of
    the job's kind, else the A100 row (every GPU row shares its basis) or a 16-core
    machine. The rows are looked up once, not per job."""
    gpu_row = _planned_row(ASSUMED_GPU, hardware, settings)
    cpu_row = _planned_row(ASSUMED_CPU, hardware, settings)

    def rate(gpus: int) -> float:
        return (gpu_row if gpus > 0 else cpu_row).g_per_hour * max(gpus, 1)

    return rate


def _planned_row(assumed: str, hardware: str | None, settings: FootprintSettings) -> Embodied:
    """`hardware`'s row where it is of `assumed`'s kind (CPU or GPU), else `assumed`'s; an
    unknown `hardware` falls back to `assumed`, with a warning saying so."""
    if hardware is None or hardware.startswith("cpu") != assumed.startswith("cpu"):
        return embodied_row(assumed, settings)
    try:
        return embodied_row(hardware, settings)
    except EstimateError as exc:
        log.warning("planned embodied carbon assumes %s: %s", assumed, exc)
        return embodied_row(assumed, settings)
