"""Export rows: CodeCarbon's emissions.csv names wherever a column means the same thing
(in CodeCarbon's units: kg, kWh, W, s), then gridwait's own columns. The field order of
`ExportRow` is the CSV's column order."""

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
    cpu_power: float | None
    gpu_power: float | None
    ram_power: float | None
    cpu_energy: float | None
    gpu_energy: float | None
    ram_energy: float | None
    energy_consumed: float | None
    region: str
    cpu_model: str | None
    gpu_count: int
    gpu_model: str | None
    tracking_mode: str
    pue: float | None
    # gridwait's columns
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


def export_row(row: dict[str, Any], zone: str, measured: float) -> ExportRow:
    """One history row (store/queries.py) in export units."""
    seconds = row["duration_s"] or 0.0
    kg = _kg(row["emissions_g"])
    gpu = row["gpus"] > 0

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
        cpu_power=watts(row["energy_cpu_j"]),
        gpu_power=watts(row["energy_gpu_j"]),
        ram_power=watts(row["energy_ram_j"]),
        cpu_energy=kwh_or_none(row["energy_cpu_j"]),
        gpu_energy=kwh_or_none(row["energy_gpu_j"]),
        ram_energy=kwh_or_none(row["energy_ram_j"]),
        energy_consumed=kwh_or_none(row["energy_facility_j"]),
        region=zone,
        cpu_model=None if gpu else row["hardware"],
        gpu_count=row["gpus"],
        gpu_model=row["hardware"] if gpu else None,
        tracking_mode="process",
        pue=row["pue"],
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
        writer.writerow(
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
        )
    return buffer.getvalue()
