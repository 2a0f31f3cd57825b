"""A read-only path on the standard library's sqlite3, for listing commands.

`gridwait queue` must answer in well under a second with tens of thousands of jobs;
importing SQLAlchemy alone costs a third of that. Listing commands therefore read
through here; everything that writes goes through `Store`. A database that still needs a
migration is opened through `Store` first (see `open_reader`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridwait.errors import StoreError
from gridwait.store.migrations import HAS_VERSION_TABLE, LATEST, VERSION_QUERY

Row = dict[str, Any]


def _to_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


@contextmanager
def open_reader(
    path: Path, upgrade: Callable[[], object] | None = None
) -> Iterator[sqlite3.Connection]:
    """A read-only connection; calls `upgrade()` first when the schema is missing or old."""
    if upgrade is not None and _version(path) != LATEST:
        upgrade()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def _version(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return 0
    try:
        if not conn.execute(HAS_VERSION_TABLE).fetchone():
            return 0
        return int(conn.execute(VERSION_QUERY).fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise StoreError(unusable(path, exc)) from None
    finally:
        conn.close()


def unusable(path: Path, exc: BaseException) -> str:
    """One line for a database file SQLite cannot use, with what to do about it."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if "not a database" in reason or "malformed" in reason:
        return (
            f"database {path} is not a gridwait database, or it is damaged ({reason}):"
            " restore it from a backup, or move it aside and run `gridwait init` for a new one"
        )
    return f"cannot open database {path}: {reason}"


def fetch(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any] = (), times: Sequence[str] = ()
) -> list[Row]:
    """Rows as dicts; the columns named in `times` become timezone-aware UTC datetimes."""
    try:
        cursor = conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the database: {exc}") from None
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for key in times:
            row[key] = _to_time(row[key])
    return rows
