"""The stored intensity history as the live corrector may see it at `now`: actuals of the
periods that had ended by then, and for each past period the forecast that was current at
its start. Nothing fetched, issued or ending after `now` is read, whatever the table holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from gridwait.store.types import db_text

_INSERT_NEW = text(
    "INSERT OR IGNORE INTO intensity_points"
    " (provider, zone, signal, kind, issued_at, start, resolution_s, value, fetched_at)"
    " VALUES (:provider, :zone, :signal, :kind, :issued_at, :start, :resolution_s, :value,"
    " :fetched_at)"
)
_ACTUALS = text(
    "SELECT start, value FROM intensity_points"
    " WHERE provider = :provider AND zone = :zone AND kind = 'actual'"
    " AND resolution_s = :resolution_s AND start >= :first AND start <= :last_start"
    " AND fetched_at <= :now ORDER BY start"
)
# per period, the forecast issued last at or before its start (a point's issue time: when
# the provider says it issued it, else when we fetched it); one pass, no correlated query
_FORECASTS = text(
    "SELECT start, value FROM (SELECT start, value, ROW_NUMBER() OVER"
    " (PARTITION BY start ORDER BY COALESCE(issued_at, fetched_at) DESC) AS newest"
    " FROM intensity_points"
    " WHERE provider = :provider AND zone = :zone AND kind = 'forecast'"
    " AND resolution_s = :resolution_s AND start >= :first AND start < :end"
    " AND fetched_at <= :now AND COALESCE(issued_at, fetched_at) <= start)"
    " WHERE newest = 1 ORDER BY start"
)
_FIRST_FORECAST = text(
    "SELECT MIN(start) FROM intensity_points WHERE provider = :provider AND zone = :zone"
    " AND kind = 'forecast' AND resolution_s = :resolution_s AND fetched_at <= :now"
    " AND start >= :first"
)
_LAST_ACTUAL = text(
    "SELECT MAX(start) FROM intensity_points WHERE provider = :provider AND zone = :zone"
    " AND kind = 'actual' AND resolution_s = :resolution_s AND fetched_at <= :now"
    " AND start <= :last_start"
)


def insert_new_points(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert points not stored yet (same provider, zone, signal, kind, issue time and
    period); a stored one keeps its fetch time, so a forecast cache's age stays true."""
    prepared = [
        {k: db_text(v) if k in ("issued_at", "start", "fetched_at") else v for k, v in r.items()}
        for r in rows
    ]
    if prepared:
        session.exec(_INSERT_NEW, params=prepared)  # type: ignore[call-overload]


def known_actuals(
    session: Session, key: tuple[str, str], resolution: timedelta, first: datetime, now: datetime
) -> list[tuple[datetime, float]]:
    """(period start, gCO2eq/kWh) of the stored actuals of `key` = (provider, zone) for
    the periods from `first` that had ended by `now`, fetched by `now`."""
    params = _params(key, resolution, now) | {
        "first": db_text(first),
        "last_start": db_text(now - resolution),
    }
    return _rows(session.connection().execute(_ACTUALS, params).all())


def known_forecasts(
    session: Session,
    key: tuple[str, str],
    resolution: timedelta,
    span: tuple[datetime, datetime],
    now: datetime,
) -> list[tuple[datetime, float]]:
    """(period start, gCO2eq/kWh) for each period of `span` = [first, end): the value of
    the stored forecast of `key` issued last at or before the period's start (what a plan
    made just before it would have used), among those fetched by `now`."""
    params = _params(key, resolution, now) | {
        "first": db_text(span[0]),
        "end": db_text(span[1]),
    }
    return _rows(session.connection().execute(_FORECASTS, params).all())


def last_actual_start(
    session: Session, key: tuple[str, str], resolution: timedelta, now: datetime
) -> datetime | None:
    """The start of the newest stored actual of `key` of a period ended and fetched by
    `now`, if any."""
    params = _params(key, resolution, now) | {"last_start": db_text(now - resolution)}
    value = session.connection().execute(_LAST_ACTUAL, params).scalar()
    return None if value is None else _time(value)


def first_forecast_start(
    session: Session, key: tuple[str, str], resolution: timedelta, first: datetime, now: datetime
) -> datetime | None:
    """The earliest period from `first` a stored forecast of `key` fetched by `now` covers:
    actuals before it have no forecast error to give."""
    params = _params(key, resolution, now) | {"first": db_text(first)}
    value = session.connection().execute(_FIRST_FORECAST, params).scalar()
    return None if value is None else _time(value)


def _params(key: tuple[str, str], resolution: timedelta, now: datetime) -> dict[str, Any]:
    provider, zone = key
    return {
        "provider": provider,
        "zone": zone,
        "resolution_s": int(resolution.total_seconds()),
        "now": db_text(now),
    }


def _rows(rows: Sequence[Any]) -> list[tuple[datetime, float]]:
    return [(_time(start), float(value)) for start, value in rows]


def _time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed.replace(tzinfo=UTC)
