"""Budgets and what has been used or committed against them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from gridwait.errors import NotFoundError
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


_USED = text(
    """
    SELECT jobs.owner AS owner, jobs.project AS project, SUM(runs.emissions_g) AS grams
    FROM runs JOIN jobs ON jobs.id = runs.job_id
    WHERE runs.emissions_g IS NOT NULL AND runs.ended_at >= :start AND runs.ended_at < :end
    GROUP BY jobs.owner, jobs.project
    """
)
_COMMITTED = text(
    """
    SELECT owner, project, id, plan_forecast_g AS grams, state
    FROM jobs
    WHERE state IN ('planned', 'running') AND plan_forecast_g IS NOT NULL
      AND planned_start >= :start AND planned_start < :end
    """
)


def month_usage(
    session: Session, start: datetime, end: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Actual grams of runs that ended in [start, end) per (owner, project), and the
    planned or running jobs whose window starts in it with their forecast grams."""
    params = {"start": db_text(start), "end": db_text(end)}
    used = [dict(r._mapping) for r in session.connection().execute(_USED, params)]
    committed = [dict(r._mapping) for r in session.connection().execute(_COMMITTED, params)]
    return used, committed
