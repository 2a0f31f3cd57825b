"""Column types: UTC datetimes stored as naive UTC text, read back timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"store: refusing a naive or non-datetime value {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def db_text(value: datetime | None) -> str | None:
    """The exact text SQLAlchemy's SQLite DateTime stores, for raw SQL binds: the same
    format everywhere keeps string comparisons in SQL correct."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"store: refusing a naive datetime {value!r}")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
