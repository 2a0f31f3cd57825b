"""Aggregates for the lab's metrics endpoint: counts and sums only, no job's details."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from gridwait.states import FINAL, JobState, RunState
from gridwait.store.types import db_text


def jobs_by_state(conn: sqlite3.Connection) -> dict[str, int]:
    counts = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    return {state.value: int(counts.get(state.value, 0)) for state in JobState}


def waiting_plans(conn: sqlite3.Connection, fallback_like: str) -> tuple[float, float, int]:
    """Planned forecast grams and run-now grams of the jobs not yet finished, and how many
    of them were planned on a fallback signal (`plan_source` LIKE `fallback_like`)."""
    final = sorted(FINAL)
    row = conn.execute(
        "SELECT COALESCE(SUM(plan_forecast_g), 0), COALESCE(SUM(plan_run_now_g), 0),"
        " COALESCE(SUM(plan_source LIKE ?), 0)"
        f" FROM jobs WHERE state NOT IN ({', '.join('?' * len(final))})",
        (fallback_like, *final),
    ).fetchone()
    return float(row[0]), float(row[1]), int(row[2])


def finished_runs(
    conn: sqlite3.Connection, fallback_like: str
) -> tuple[int, float, float, float, int]:
    """Runs that succeeded and were accounted: count, facility kWh, gCO2e, g saved, and how
    many were accounted on a fallback intensity (`intensity_source` LIKE `fallback_like`)."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(energy_facility_j), 0) / 3600000.0,"
        " COALESCE(SUM(emissions_g), 0), COALESCE(SUM(saving_g), 0),"
        " COALESCE(SUM(intensity_source LIKE ?), 0)"
        " FROM runs WHERE state = ? AND emissions_g IS NOT NULL",
        (fallback_like, RunState.SUCCEEDED.value),
    ).fetchone()
    return int(row[0]), float(row[1]), float(row[2]), float(row[3]), int(row[4])


def current_intensity(
    conn: sqlite3.Connection, zone: str, now: datetime
) -> tuple[float, str] | None:
    """The newest stored forecast's value for the period holding `now`, and its provider."""
    rows = conn.execute(
        "SELECT value, provider, start, resolution_s FROM intensity_points"
        " WHERE zone = ? AND kind = 'forecast' AND start <= ? AND start > ?"
        " ORDER BY fetched_at DESC, start DESC LIMIT 8",
        (zone, db_text(now), db_text(now - timedelta(days=1))),
    ).fetchall()
    for value, provider, start, resolution_s in rows:
        begins = datetime.fromisoformat(start).replace(tzinfo=UTC)
        if begins + timedelta(seconds=resolution_s) > now:
            return float(value), str(provider)
    return None
