"""Runs: one attempt (or one segment) of a job on a worker."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from gridwait.store.models import Run


def runs_of(session: Session, job_id: int) -> Sequence[Run]:
    return session.exec(select(Run).where(Run.job_id == job_id).order_by(col(Run.id))).all()
