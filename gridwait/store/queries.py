"""Read-only listing queries on the stdlib reader (see reader.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from gridwait.states import FINAL
from gridwait.store.reader import Row, fetch

_QUEUE = """
SELECT id, name, owner, project, state, gpus, interruptible, submitted_at, deadline,
       planned_start, planned_end, est_energy_j / 3600000.0 AS est_energy_kwh, est_seconds,
       plan_forecast_g, plan_run_now_g, plan_late AS late, state_reason AS reason
FROM jobs
"""


def queue_rows(
    conn: sqlite3.Connection,
    include_final: bool = False,
    owner: str | None = None,
    project: str | None = None,
) -> list[Row]:
    where, params = _filters(owner, project)
    if not include_final:
        where.append(f"state NOT IN ({', '.join('?' * len(FINAL))})")
        params.extend(sorted(FINAL))
    sql = _QUEUE + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    rows = fetch(
        conn, sql, params, times=("submitted_at", "deadline", "planned_start", "planned_end")
    )
    return rows


def _filters(
    owner: str | None, project: str | None, prefix: str = ""
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if owner:
        where.append(f"{prefix}owner = ?")
        params.append(owner)
    if project:
        where.append(f"{prefix}project = ?")
        params.append(project)
    return where, params


_HISTORY = """
SELECT runs.id AS run_id, runs.job_id, jobs.name, jobs.owner, jobs.project, runs.state,
       runs.attempt, runs.segment, runs.started_at, runs.ended_at, runs.duration_s,
       runs.energy_gpu_j, runs.energy_cpu_j, runs.energy_ram_j, runs.energy_it_j,
       runs.energy_facility_j, runs.pue, runs.gpu_method, runs.cpu_method, runs.ram_method,
       runs.emissions_g, runs.emissions_provisional, runs.forecast_g, runs.counterfactual_g,
       runs.saving_g, runs.intensity_source, runs.tokens_real, runs.tokens_padded, runs.steps,
       runs.final_loss, runs.accuracy, runs.eval_examples, runs.eval_loss, runs.eval_accuracy,
       runs.hardware, runs.precision, jobs.gpus, jobs.est_energy_j,
       jobs.est_seconds, runs.embodied_g, runs.embodied_method, runs.embodied_source,
       runs.water_l, runs.water_onsite_l, runs.water_grid_l, runs.water_method, runs.planning_g,
       runs.planning_source
FROM runs JOIN jobs ON jobs.id = runs.job_id
"""
MEASURED_METHODS = ("nvml_counter", "nvml_power", "rapl")


def history_rows(
    conn: sqlite3.Connection,
    owner: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    job_id: int | None = None,
) -> list[Row]:
    """One row per run that started, oldest first; `since`/`until` are stored-format UTC
    texts bounding the run's start."""
    where, params = _filters(owner, project, prefix="jobs.")
    if job_id is not None:
        where.append("runs.job_id = ?")
        params.append(job_id)
    where.append("runs.started_at IS NOT NULL")
    if since:
        where.append("runs.started_at >= ?")
        params.append(since)
    if until:
        where.append("runs.started_at < ?")
        params.append(until)
    sql = _HISTORY + " WHERE " + " AND ".join(where) + " ORDER BY runs.started_at, runs.id"
    rows = fetch(conn, sql, params, times=("started_at", "ended_at"))
    for row in rows:
        row["emissions_provisional"] = bool(row["emissions_provisional"])
        row["measured_j"] = measured_joules(row)
    return rows


def measured_joules(row: Row) -> float:
    """The part of a run's IT energy that was measured rather than estimated."""
    total = 0.0
    for part in ("gpu", "cpu", "ram"):
        method = row.get(f"{part}_method") or ""
        if method in MEASURED_METHODS and row.get(f"energy_{part}_j"):
            total += float(row[f"energy_{part}_j"])
    return total
