"""Budgets and what has been used or committed against them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from gridwait.errors import NotFoundError
from gridwait.states import JobState, sql_in
from gridwait.store.models import Budget
from gridwait.store.types import db_text


def set_budget(
    session: Session,
    scope: str,
    name: str,
    monthly_g: float,
    now: datetime,
    counts: str = "operational",
) -> Budget:
    budget = session.exec(select(Budget).where(Budget.scope == scope, Budget.name == name)).first()
    if budget is None:
        budget = Budget(
            scope=scope,
            name=name,
            monthly_g=monthly_g,
            counts=counts,
            created_at=now,
            updated_at=now,
        )
    else:
        budget.monthly_g, budget.counts, budget.updated_at = monthly_g, counts, now
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
    """A planned or running job's forecast grams in a month, and its estimated embodied
    grams (its estimated hours x the embodied rate of its devices)."""

    job_id: int
    owner: str
    project: str
    grams: float
    running: bool
    embodied_g: float = 0.0


@dataclass(frozen=True)
class MonthUsage:
    """What a month's budgets are charged: actual operational and embodied grams of runs
    that ended in it per (owner, project), and the jobs planned or running in it (read by
    `month_usage`)."""

    used: list[tuple[str, str, float, float]]
    committed: list[Commitment]


_USED = text(
    """
    SELECT jobs.owner AS owner, jobs.project AS project, SUM(runs.emissions_g) AS grams,
           SUM(runs.embodied_g) AS embodied
    FROM runs JOIN jobs ON jobs.id = runs.job_id
    WHERE runs.emissions_g IS NOT NULL AND runs.ended_at >= :start AND runs.ended_at < :end
    GROUP BY jobs.owner, jobs.project
    """
)
_COMMITTED = text(
    f"""
    SELECT owner, project, id, plan_forecast_g AS grams, state, gpus, est_seconds
    FROM jobs
    WHERE state IN {sql_in({JobState.PLANNED, JobState.RUNNING})} AND plan_forecast_g IS NOT NULL
      AND planned_start >= :start AND planned_start < :end
    """
)


EmbodiedRate = Callable[[int], float]
"""gCO2e per hour of a job with this many GPUs (0: a CPU job)."""


def month_usage(
    session: Session, start: datetime, end: datetime, rate: EmbodiedRate | None = None
) -> MonthUsage:
    """Actual grams of runs that ended in [start, end) per (owner, project), and the
    planned or running jobs whose window starts in it with their forecast grams (and,
    given the embodied `rate`, their estimated embodied grams)."""
    params = {"start": db_text(start), "end": db_text(end)}
    conn = session.connection()
    used = [
        (str(r.owner), str(r.project), float(r.grams or 0.0), float(r.embodied or 0.0))
        for r in conn.execute(_USED, params)
    ]
    committed = [
        Commitment(
            int(r.id),
            str(r.owner),
            str(r.project),
            float(r.grams or 0.0),
            r.state == JobState.RUNNING,
            rate(int(r.gpus)) * float(r.est_seconds or 0.0) / 3600 if rate else 0.0,
        )
        for r in conn.execute(_COMMITTED, params)
    ]
    return MonthUsage(used, committed)
