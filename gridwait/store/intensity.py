"""Stored intensity points: every fetched period, with its provider, zone, signal, kind
(forecast or actual) and the time the forecast was issued, so plans stay auditable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from gridwait.store.models import IntensityPoint
from gridwait.store.types import db_text

_UPSERT = text(
    "INSERT OR REPLACE INTO intensity_points"
    " (provider, zone, signal, kind, issued_at, start, resolution_s, value, fetched_at)"
    " VALUES (:provider, :zone, :signal, :kind, :issued_at, :start, :resolution_s, :value,"
    " :fetched_at)"
)
TIME_FIELDS = ("issued_at", "start", "fetched_at")


def save_points(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace points (dicts with the IntensityPoint fields, aware datetimes)."""
    if not rows:
        return 0
    prepared = [{k: db_text(v) if k in TIME_FIELDS else v for k, v in r.items()} for r in rows]
    session.exec(_UPSERT, params=prepared)  # type: ignore[call-overload]
    return len(prepared)


def latest_forecast_points(
    session: Session, provider: str, zone: str, fetched_since: datetime
) -> Sequence[IntensityPoint]:
    """The points of the most recently fetched forecast of (provider, zone), if it was
    fetched at or after `fetched_since`; empty otherwise."""
    newest = session.exec(
        select(IntensityPoint.fetched_at)
        .where(IntensityPoint.provider == provider, IntensityPoint.zone == zone)
        .where(IntensityPoint.kind == "forecast", col(IntensityPoint.fetched_at) >= fetched_since)
        .order_by(col(IntensityPoint.fetched_at).desc())
        .limit(1)
    ).first()
    return _forecast_fetched_at(session, provider, zone, newest)


def actual_points(
    session: Session,
    provider: str,
    zone: str,
    start: datetime,
    end: datetime,
    fetched_since: datetime,
    longest_period: timedelta = timedelta(hours=1),
) -> Sequence[IntensityPoint]:
    """Stored actuals of periods touching [start, end), fetched at or after `fetched_since`."""
    return session.exec(
        select(IntensityPoint)
        .where(IntensityPoint.provider == provider, IntensityPoint.zone == zone)
        .where(IntensityPoint.kind == "actual", col(IntensityPoint.fetched_at) >= fetched_since)
        .where(col(IntensityPoint.start) < end, col(IntensityPoint.start) > start - longest_period)
        .order_by(col(IntensityPoint.start))
    ).all()


def forecast_points_before(
    session: Session, provider: str, zone: str, fetched_by: datetime, start: datetime
) -> Sequence[IntensityPoint]:
    """The last forecast of (provider, zone) fetched by `fetched_by` that reaches `start`:
    what the planner knew when a run began."""
    newest = session.exec(
        select(IntensityPoint.fetched_at)
        .where(IntensityPoint.provider == provider, IntensityPoint.zone == zone)
        .where(IntensityPoint.kind == "forecast", col(IntensityPoint.fetched_at) <= fetched_by)
        .where(col(IntensityPoint.start) <= start)
        .order_by(col(IntensityPoint.fetched_at).desc())
        .limit(1)
    ).first()
    return _forecast_fetched_at(session, provider, zone, newest)


def _forecast_fetched_at(
    session: Session, provider: str, zone: str, fetched_at: datetime | None
) -> Sequence[IntensityPoint]:
    """The points of one stored forecast, in time order; none when there is no fetch."""
    if fetched_at is None:
        return []
    return session.exec(
        select(IntensityPoint)
        .where(IntensityPoint.provider == provider, IntensityPoint.zone == zone)
        .where(IntensityPoint.kind == "forecast", IntensityPoint.fetched_at == fetched_at)
        .order_by(col(IntensityPoint.start))
    ).all()
