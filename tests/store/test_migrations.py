"""A database written by an older gridwait upgrades itself on open, keeping its rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlmodel import SQLModel

from gridwait.clock import ManualClock
from gridwait.errors import StoreError
from gridwait.store import models  # noqa: F401  (registers the tables)
from gridwait.store.engine import Store, make_engine
from gridwait.store.jobs import get_job
from gridwait.store.migrations import LATEST, migrate

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _first_schema_database(path: Path) -> None:
    """What gridwait 0.1 (schema version 1) wrote: its tables and one queued job."""
    engine = make_engine(path)
    with engine.begin() as conn:
        migrate(conn, NOW.isoformat(), target=1)
        conn.exec_driver_sql(
            "INSERT INTO jobs (name, owner, project, model, task, dataset, spec_json, epochs,"
            " batch_size, max_length, learning_rate, gpus, interruptible, padding, max_retries,"
            " submitted_at, earliest_start, deadline, state, updated_at)"
            " VALUES ('old', 'ada', 'p', 'builtin:minilm', 'sequence-classification', '/d.csv',"
            " '{}', 1, 8, 64, 5e-5, 0, 0, 'dynamic', 1, '2026-01-05 09:00:00.000000',"
            " '2026-01-05 09:00:00.000000', '2026-01-06 09:00:00.000000', 'queued',"
            " '2026-01-05 09:00:00.000000')"
        )
    engine.dispose()


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])


def test_old_database_upgrades_on_open(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _first_schema_database(db)
    assert _version(db) == 1
    store = Store(db, ManualClock(NOW))
    assert _version(db) == LATEST
    with store.read() as session:
        job = get_job(session, 1)
    assert job.name == "old" and job.deadline == datetime(2026, 1, 6, 9, tzinfo=UTC)
    store.close()


def test_reopening_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Store(db, ManualClock(NOW)).close()
    Store(db, ManualClock(NOW)).close()
    with sqlite3.connect(db) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, LATEST + 1))


def _affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type (section 3.1 of its datatype doc)."""
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if any(word in t for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(word in t for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def test_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    """Same columns, same type affinities, same nullability as the SQLModel tables."""
    db = tmp_path / "fresh.db"
    Store(db, ManualClock(NOW)).close()
    dialect = sqlite_dialect()
    with sqlite3.connect(db) as conn:
        for table in SQLModel.metadata.sorted_tables:
            info = {row[1]: row for row in conn.execute(f"PRAGMA table_info({table.name})")}
            assert set(info) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                _, name, declared, notnull, _, pk = info[column.name]
                model_type = column.type.compile(dialect=dialect)
                where = f"{table.name}.{name}: migrations {declared}, model {model_type}"
                assert _affinity(declared) == _affinity(model_type), where
                if not pk:
                    assert bool(notnull) == (not column.nullable), f"{where} nullability"


# Every index the migrations create, by table: a query plan relies on each of them.
INDEXES = {
    "jobs": {"ix_jobs_state", "ix_jobs_owner", "ix_jobs_project"},
    "job_events": {"ix_job_events_job"},
    "runs": {"ix_runs_job", "ix_runs_state"},
    "energy_samples": {"ix_energy_samples_run"},
    "intensity_points": {"ux_intensity_points", "ix_intensity_lookup"},
}


def test_indexes_survive_every_migration(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    Store(db, ManualClock(NOW)).close()
    with sqlite3.connect(db) as conn:
        for table, wanted in INDEXES.items():
            found = {row[1] for row in conn.execute(f"PRAGMA index_list({table})")}
            assert wanted <= found, f"{table}: missing {wanted - found}"
        columns = [row[2] for row in conn.execute("PRAGMA index_info(ix_energy_samples_run)")]
        assert columns == ["run_id", "at"]


def test_version_4_turns_the_pid_into_a_text_handle(tmp_path: Path) -> None:
    """A run written by schema 3 keeps its worker's PID, now as the launcher's text handle."""
    db = tmp_path / "v3.db"
    _first_schema_database(db)
    engine = make_engine(db)
    with engine.begin() as conn:
        migrate(conn, NOW.isoformat(), target=3)
        conn.exec_driver_sql(
            "INSERT INTO runs (job_id, attempt, segment, state, claimed_at, pid)"
            " VALUES (1, 1, 0, 'running', '2026-01-05 09:00:00.000000', 4242)"
        )
    engine.dispose()
    Store(db, ManualClock(NOW)).close()
    with sqlite3.connect(db) as conn:
        columns = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(runs)")}
        handle, kind = conn.execute("SELECT handle, typeof(handle) FROM runs").fetchone()
    assert "pid" not in columns and columns["handle"] == "TEXT"
    assert (handle, kind) == ("4242", "text")


def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    Store(db, ManualClock(NOW)).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (LATEST + 5,))
    with pytest.raises(StoreError, match="newer than this gridwait"):
        Store(db, ManualClock(NOW))


def test_pragmas(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db", ManualClock(NOW))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_unopenable_path(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open database"):
        Store(tmp_path / "dir.db", ManualClock(NOW))


def test_sessions_from_before_their_token_was_recorded_are_ended(tmp_path: Path) -> None:
    """The migration that ties a dashboard session to its API token ends the sessions it
    finds (they name no token, so revoking one could not end them); from then on, deleting
    a token deletes its sessions."""
    from gridwait.store.migrations import MIGRATIONS

    before = next(i for i, m in enumerate(MIGRATIONS) if any("token_id" in s for s in m))
    db = tmp_path / "sessions.db"
    engine = make_engine(db)
    stamp = "2026-01-05 09:00:00.000000"
    with engine.begin() as conn:
        migrate(conn, NOW.isoformat(), target=before)
        conn.exec_driver_sql(
            f"INSERT INTO users (name, role, created_at) VALUES ('ada', 'member', '{stamp}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO web_sessions (user_id, session_hash, csrf, created_at, expires_at)"
            f" VALUES (1, 'old', 'c', '{stamp}', '2026-01-06 09:00:00.000000')"
        )
        migrate(conn, NOW.isoformat())
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM web_sessions").scalar() == 0
        conn.exec_driver_sql(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at)"
            f" VALUES (1, 't', 'h', '{stamp}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO web_sessions (user_id, token_id, session_hash, csrf, created_at,"
            f" expires_at) VALUES (1, 1, 'new', 'c', '{stamp}', '2026-01-06 09:00:00.000000')"
        )
        conn.exec_driver_sql("DELETE FROM api_tokens WHERE id = 1")
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM web_sessions").scalar() == 0
    engine.dispose()
