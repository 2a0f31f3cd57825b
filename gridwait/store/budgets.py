"""Budgets and what has been used or committed against them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from gridwait.errors import NotFoundError
from gridwait.states import JobState, sql_in
from gridwait.store.models import Budget
from gridwait.store.types import db_text


def set_budget(session: Session, scope: str, name: str, monthly_g: float, now: datetime) -> Budget:
    budget = session.exec(select(Budget).where(Budget.scope == scope, Budget.name == name)).first()
    if budget is None:
        budget = Budget(scope=scope, name=name, monthly_g=monthly_g, created_at=now, updated_at=now)
    else:
        budget.monthly_g, budget.updated_at = monthly_g, now
    session.add(budget)
    return budget


def remove_budget(session: Session, scope: str, name: str) -> None:
    budget = session.exec(select(Budget).where(Budget.scope == scope, Budget.name == name)).first()
    if budget is None:
        raise NotFoundError(f"no budget for {scope} {name!r}")
    session.delete(budget)


def budgets(session: Session) -> Sequence[Budget]:
    return session.exec(select(Budget).order_by(col(Budget.scope), col(Budget.name))).all()


@dataclass(frozen=True)
class Commitment:
    """A planned or running job's forecast grams in a month."""

    job_id: int
    owner: str
    project: str
    grams: float
    running: bool


@dataclass(frozen=True)
class MonthUsage:
    """What a month's budgets are charged: actual grams of runs that ended in it per
    (owner, project), and the jobs planned or running in it (read by `month_usage`)."""

    used: list[tuple[str, str, float]]
    committed: list[Commitment]


_USED = text(
    """
    SELECT jobs.owner AS owner, jobs.project AS project, SUM(runs.emissions_g) AS grams
    FROM runs JOIN jobs ON jobs.id = runs.job_id
    WHERE runs.emissions_g IS NOT NULL AND runs.ended_at >= :start AND runs.ended_at < :end
    GROUP BY jobs.owner, jobs.project
    """
)
_COMMITTED = text(
    f"""
    SELECT owner, project, id, plan_forecast_g AS grams, state
    FROM jobs
    WHERE state IN {sql_in({JobState.PLANNED, JobState.RUNNING})} AND plan_forecast_g IS NOT NULL
      AND planned_start >= :start AND planned_start < :end
    """
)


def month_usage(session: Session, start: datetime, end: datetime) -> MonthUsage:
    """Actual grams of runs that ended in [start, end) per (owner, project), and the
    planned or running jobs whose window starts in it with their forecast grams."""
    params = {"start": db_text(start), "end": db_text(end)}
    conn = session.connection()
    used = [
        (str(r.owner), str(r.project), float(r.grams or 0.0)) for r in conn.execute(_USED, params)
    ]
    committed = [
        Commitment(
            int(r.id),
            str(r.owner),
            str(r.project),
            float(r.grams or 0.0),
            r.state == JobState.RUNNING,
        )
        for r in conn.execute(_COMMITTED, params)
    ]
    return MonthUsage(used, committed)
