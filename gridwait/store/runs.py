"""Runs: one attempt (or one segment) of a job on a worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from gridwait.store.models import Run


def runs_of(session: Session, job_id: int) -> Sequence[Run]:
    return session.exec(select(Run).where(Run.job_id == job_id).order_by(col(Run.id))).all()


_MEASURED = text(
    "SELECT jobs.model, runs.hardware, runs.precision, runs.tokens_padded, runs.flops,"
    " runs.duration_s, runs.energy_it_j, runs.energy_gpu_j, runs.energy_cpu_j"
    " FROM runs JOIN jobs ON jobs.id = runs.job_id"
    " WHERE runs.state = 'succeeded' AND runs.duration_s IS NOT NULL"
    " AND runs.energy_it_j IS NOT NULL AND runs.tokens_padded IS NOT NULL"
    " AND runs.hardware IS NOT NULL"
)


def measured_runs(session: Session) -> list[dict[str, Any]]:
    """Finished runs with a measured duration and energy, for calibration."""
    return [dict(row._mapping) for row in session.connection().execute(_MEASURED)]


def progress_of(session: Session, job_id: int) -> float:
    """Share of a job's work already done by its earlier (suspended) segments, 0..1."""
    row = (
        session.connection()
        .execute(
            text(
                "SELECT MAX(runs.steps), MAX(runs.total_steps) FROM runs"
                " WHERE runs.job_id = :job AND runs.steps IS NOT NULL"
            ),
            {"job": job_id},
        )
        .first()
    )
    if row is None or not row[0] or not row[1]:
        return 0.0
    return min(1.0, float(row[0]) / float(row[1]))
