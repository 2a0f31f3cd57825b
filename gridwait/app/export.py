"""Export rows: every column of CodeCarbon's emissions.csv, in its order and units (kg,
kWh, W, s, L), then gridwait's own columns. The field order of `ExportRow` is the CSV's
column order.

CodeCarbon's columns that gridwait does not know (the worker's OS, Python and
CodeCarbon versions, the cloud, coordinates, RAM size, utilisation) are left empty,
never guessed. `emissions` is operational, as CodeCarbon's is; `water_consumed` is the
on-site water (energy x WUE), as CodeCarbon's is; gridwait's columns add the embodied
carbon, the total and the grid's water."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridwait.app.views import View
from gridwait.units import kwh_or_none


class ExportRow(View):
    # CodeCarbon's columns
    timestamp: datetime | None
    project_name: str
    run_id: int
    experiment_id: int
    duration: float
    emissions: float | None
    """kgCO2eq"""
    emissions_rate: float | None
    """kgCO2eq/s"""
    cpu_utilization_percent: float | None
    ram_utilization_percent: float | None
    ram_used_gb: float | None
    cpu_power: float | None
    gpu_power: float | None
    ram_power: float | None
    cpu_energy: float | None
    gpu_energy: float | None
    ram_energy: float | None
    energy_consumed: float | None
    water_consumed: float | None
    """Litres on site: IT energy x WUE."""
    country_name: str | None
    country_iso_code: str | None
    region: str
    """The grid zone (gridwait's, e.g. SE or US-TEX-ERCO)."""
    cloud_provider: str | None
    cloud_region: str | None
    os: str | None
    python_version: str | None
    codecarbon_version: str | None
    cpu_count: float | None
    cpu_model: str | None
    gpu_count: int
    gpu_model: str | None
    longitude: float | None
    latitude: float | None
    ram_total_size: float | None
    tracking_mode: str
    on_cloud: str | None
    pue: float | None
    wue: float
    # gridwait's columns
    embodied_emissions: float | None
    """kgCO2e, amortised manufacturing of the devices held."""
    embodied_method: str | None
    embodied_source: str | None
    total_emissions: float | None
    """kgCO2e, operational + embodied."""
    water_total: float | None
    """Litres: on site + the grid's, where a source for the zone is known."""
    water_grid: float | None
    water_method: str | None
    planning_emissions: float | None
    """kgCO2eq on the signal planned on, where that is not the reported one."""
    planning_source: str | None
    job_name: str
    owner: str
    state: str
    started_at: datetime | None
    forecast_emissions: float | None
    counterfactual_emissions: float | None
    emissions_saved: float | None
    emissions_provisional: bool
    intensity_source: str | None
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None
    measured_share: float
    tokens_real: int | None
    tokens_padded: int | None


COLUMNS = tuple(ExportRow.model_fields)


def _kg(grams: float | None) -> float | None:
    return None if grams is None else grams / 1000


# ISO 3166 names and alpha-3 codes of the zones gridwait's traces and profiles use; a
# zone not here leaves CodeCarbon's country columns empty.
_COUNTRIES = {
    "SE": ("Sweden", "SWE"),
    "DE": ("Germany", "DEU"),
    "GB": ("United Kingdom", "GBR"),
    "FR": ("France", "FRA"),
    "US": ("United States", "USA"),
    "NL": ("Netherlands", "NLD"),
    "DK": ("Denmark", "DNK"),
    "NO": ("Norway", "NOR"),
    "ES": ("Spain", "ESP"),
    "IT": ("Italy", "ITA"),
    "PL": ("Poland", "POL"),
    "CA": ("Canada", "CAN"),
}


def country(zone: str) -> tuple[str, str] | None:
    """(name, ISO alpha-3) of a zone such as SE, SE-SE3 or US-TEX-ERCO."""
    return _COUNTRIES.get(zone.split("-", maxsplit=1)[0].upper())


def export_row(row: dict[str, Any], zone: str, measured: float, wue: float = 0.0) -> ExportRow:
    """One history row (store/queries.py) in export units; `wue` is the setting used."""
    seconds = row["duration_s"] or 0.0
    kg = _kg(row["emissions_g"])
    gpu = row["gpus"] > 0
    where = country(zone)
    total = (
        None if kg is None or row["embodied_g"] is None else row["emissions_g"] + row["embodied_g"]
    )

    def watts(joules: float | None) -> float | None:
        return None if joules is None or not seconds else joules / seconds

    return ExportRow(
        timestamp=row["ended_at"],
        project_name=row["project"],
        run_id=row["run_id"],
        experiment_id=row["job_id"],
        duration=seconds,
        emissions=kg,
        emissions_rate=kg / seconds if kg is not None and seconds else None,
        cpu_utilization_percent=None,
        ram_utilization_percent=None,
        ram_used_gb=None,
        cpu_power=watts(row["energy_cpu_j"]),
        gpu_power=watts(row["energy_gpu_j"]),
        ram_power=watts(row["energy_ram_j"]),
        cpu_energy=kwh_or_none(row["energy_cpu_j"]),
        gpu_energy=kwh_or_none(row["energy_gpu_j"]),
        ram_energy=kwh_or_none(row["energy_ram_j"]),
        energy_consumed=kwh_or_none(row["energy_facility_j"]),
        water_consumed=row["water_onsite_l"],
        country_name=where[0] if where else None,
        country_iso_code=where[1] if where else None,
        region=zone,
        cloud_provider=None,
        cloud_region=None,
        os=None,
        python_version=None,
        codecarbon_version=None,
        cpu_count=None,
        cpu_model=None if gpu else row["hardware"],
        gpu_count=row["gpus"],
        gpu_model=row["hardware"] if gpu else None,
        longitude=None,
        latitude=None,
        ram_total_size=None,
        tracking_mode="process",
        on_cloud=None,
        pue=row["pue"],
        wue=wue,
        embodied_emissions=_kg(row["embodied_g"]),
        embodied_method=row["embodied_method"],
        embodied_source=row["embodied_source"],
        total_emissions=_kg(total),
        water_total=row["water_l"],
        water_grid=row["water_grid_l"],
        water_method=row["water_method"],
        planning_emissions=_kg(row["planning_g"]),
        planning_source=row["planning_source"],
        job_name=row["name"],
        owner=row["owner"],
        state=row["state"],
        started_at=row["started_at"],
        forecast_emissions=_kg(row["forecast_g"]),
        counterfactual_emissions=_kg(row["counterfactual_g"]),
        emissions_saved=_kg(row["saving_g"]),
        emissions_provisional=row["emissions_provisional"],
        intensity_source=row["intensity_source"],
        gpu_method=row["gpu_method"],
        cpu_method=row["cpu_method"],
        ram_method=row["ram_method"],
        measured_share=measured,
        tokens_real=row["tokens_real"],
        tokens_padded=row["tokens_padded"],
    )


def render(rows: list[ExportRow], fmt: str) -> str:
    """The rows as CSV (the columns in `COLUMNS` order) or as a JSON array."""
    import csv
    import io
    import json

    dumped = [r.model_dump() for r in rows]
    if fmt == "json":
        return json.dumps(dumped, default=lambda v: v.isoformat(), indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in dumped:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell. Text that a spreadsheet would run as a formula (a job or project named
    `=HYPERLINK(...)` by any member) gets a leading quote, as OWASP advises for CSV
    exports; numbers and times are written as they are. The JSON export is left as is."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
