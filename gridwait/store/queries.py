"""Read-only listing queries on the stdlib reader (see reader.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from gridwait.states import FINAL
from gridwait.store.reader import Row, fetch

_QUEUE = """
SELECT id, name, owner, project, state, gpus, interruptible, submitted_at, deadline,
       planned_start, planned_end, est_energy_j, est_seconds, plan_forecast_g,
       plan_run_now_g, plan_late, state_reason
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
    for row in rows:
        row["interruptible"] = bool(row["interruptible"])
        row["plan_late"] = bool(row["plan_late"])
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
