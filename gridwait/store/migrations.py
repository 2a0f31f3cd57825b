"""Ordered schema migrations. A database records the versions applied to it; opening it
with a newer gridwait applies the missing ones in one transaction.

Never edit a released migration: append a new one. Version 1 is the first schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gridwait.errors import StoreError

if TYPE_CHECKING:  # the fast read path imports LATEST without SQLAlchemy
    from sqlalchemy import Connection

_V1 = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        project TEXT NOT NULL,
        model TEXT NOT NULL,
        task TEXT NOT NULL,
        dataset TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        epochs INTEGER NOT NULL,
        batch_size INTEGER NOT NULL,
        max_length INTEGER NOT NULL,
        learning_rate REAL NOT NULL,
        gpus INTEGER NOT NULL,
        interruptible BOOLEAN NOT NULL,
        padding TEXT NOT NULL,
        max_retries INTEGER NOT NULL,
        submitted_at DATETIME NOT NULL,
        earliest_start DATETIME NOT NULL,
        deadline DATETIME NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        updated_at DATETIME NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        est_tokens_real INTEGER,
        est_tokens_padded INTEGER,
        est_seconds REAL,
        est_energy_j REAL,
        est_power_w REAL,
        est_low_j REAL,
        est_high_j REAL,
        est_method TEXT,
        planned_at DATETIME,
        planned_start DATETIME,
        planned_end DATETIME,
        plan_segments_json TEXT,
        plan_forecast_g REAL,
        plan_run_now_g REAL,
        plan_source TEXT,
        plan_late BOOLEAN NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX ix_jobs_state ON jobs (state)",
    "CREATE INDEX ix_jobs_owner ON jobs (owner)",
    "CREATE INDEX ix_jobs_project ON jobs (project)",
    """
    CREATE TABLE job_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        at DATETIME NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT
    )
    """,
    "CREATE INDEX ix_job_events_job ON job_events (job_id)",
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        segment INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        claimed_at DATETIME NOT NULL,
        started_at DATETIME,
        ended_at DATETIME,
        lease_expires_at DATETIME,
        heartbeat_at DATETIME,
        segment_end DATETIME,
        pid INTEGER,
        host TEXT,
        gpu_ids TEXT,
        log_path TEXT,
        exit_code INTEGER,
        error TEXT,
        tokens_real INTEGER,
        tokens_padded INTEGER,
        steps INTEGER,
        final_loss REAL,
        accuracy REAL,
        hardware TEXT,
        precision TEXT,
        model_params INTEGER,
        energy_gpu_j REAL,
        energy_cpu_j REAL,
        energy_ram_j REAL,
        energy_it_j REAL,
        energy_facility_j REAL,
        pue REAL,
        gpu_method TEXT,
        cpu_method TEXT,
        ram_method TEXT,
        measure_note TEXT,
        emissions_g REAL,
        emissions_provisional BOOLEAN NOT NULL DEFAULT 0,
        forecast_g REAL,
        counterfactual_g REAL,
        saving_g REAL,
        intensity_source TEXT,
        accounted_at DATETIME
    )
    """,
    "CREATE INDEX ix_runs_job ON runs (job_id)",
    "CREATE INDEX ix_runs_state ON runs (state)",
    """
    CREATE TABLE energy_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        at DATETIME NOT NULL,
        elapsed_s REAL NOT NULL,
        gpu_j REAL,
        cpu_j REAL,
        ram_j REAL,
        gpu_method TEXT,
        cpu_method TEXT,
        ram_method TEXT
    )
    """,
    "CREATE INDEX ix_energy_samples_run ON energy_samples (run_id, at)",
    """
    CREATE TABLE intensity_points (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        zone TEXT NOT NULL,
        signal TEXT NOT NULL,
        kind TEXT NOT NULL,
        issued_at DATETIME,
        start DATETIME NOT NULL,
        resolution_s INTEGER NOT NULL,
        value REAL NOT NULL,
        fetched_at DATETIME NOT NULL
    )
    """,
    # Expression index: NULL issue times (actuals) must still collide with each other.
    """
    CREATE UNIQUE INDEX ux_intensity_points ON intensity_points
        (provider, zone, signal, kind, COALESCE(issued_at, ''), start)
    """,
    "CREATE INDEX ix_intensity_lookup ON intensity_points (provider, zone, kind, start)",
    """
    CREATE TABLE budgets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scope TEXT NOT NULL CHECK (scope IN ('user', 'project')),
        name TEXT NOT NULL,
        monthly_g REAL NOT NULL CHECK (monthly_g > 0),
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL,
        UNIQUE (scope, name)
    )
    """,
]

# 2: token lengths cached by (dataset content, tokenizer, max_length); what calibration
#    needs from a run: its real wall time and the training FLOPs it processed.
_V2 = [
    """
    CREATE TABLE token_lengths (
        key TEXT PRIMARY KEY,
        examples INTEGER NOT NULL,
        lengths BLOB NOT NULL,
        created_at DATETIME NOT NULL
    )
    """,
    "ALTER TABLE runs ADD COLUMN duration_s REAL",
    "ALTER TABLE runs ADD COLUMN flops REAL",
]

# 3: what the worker needs to suspend and resume: the job's total optimizer steps (the
#    planner plans the remaining share) and where its checkpoint is.
_V3 = [
    "ALTER TABLE runs ADD COLUMN total_steps INTEGER",
    "ALTER TABLE runs ADD COLUMN checkpoint TEXT",
]

# 4: a launcher's handle is text (a PID locally, a Slurm job id on a cluster), not a PID.
_V4 = [
    "ALTER TABLE runs ADD COLUMN handle TEXT",
    "UPDATE runs SET handle = CAST(pid AS TEXT) WHERE pid IS NOT NULL",
    "ALTER TABLE runs DROP COLUMN pid",
]

# 5: accounts. Users with a role; API tokens stored only as their SHA-256 (a token is 256
#    random bits, so a fast hash is as safe as a slow one), revocable, with a name and when
#    last used; a run's own token (its hash), valid while the run holds its lease.
_V5 = [
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        created_at DATETIME NOT NULL
    )
    """,
    """
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at DATETIME NOT NULL,
        last_used_at DATETIME,
        UNIQUE (user_id, name)
    )
    """,
    "ALTER TABLE runs ADD COLUMN token_hash TEXT",
    "CREATE UNIQUE INDEX ux_runs_token ON runs (token_hash) WHERE token_hash IS NOT NULL",
]

# 6: a fine-tune's eval set: its size, loss and accuracy on the run that finished training,
#    and the FLOPs of its forward passes (part of `flops`; calibration needs them apart).
_V6 = [
    "ALTER TABLE runs ADD COLUMN eval_examples INTEGER",
    "ALTER TABLE runs ADD COLUMN eval_flops REAL",
    "ALTER TABLE runs ADD COLUMN eval_loss REAL",
    "ALTER TABLE runs ADD COLUMN eval_accuracy REAL",
]

# 7: the whole footprint. A run's embodied carbon (amortised hardware manufacturing, with
#    its method and source) and water (on-site and, where a source is known, the grid's,
#    in litres); the emissions on the signal it was planned on when that differs from the
#    one it is reported on; whether a budget counts operational or total emissions.
_V7 = [
    "ALTER TABLE runs ADD COLUMN embodied_g REAL",
    "ALTER TABLE runs ADD COLUMN embodied_method TEXT",
    "ALTER TABLE runs ADD COLUMN embodied_source TEXT",
    "ALTER TABLE runs ADD COLUMN water_l REAL",
    "ALTER TABLE runs ADD COLUMN water_onsite_l REAL",
    "ALTER TABLE runs ADD COLUMN water_grid_l REAL",
    "ALTER TABLE runs ADD COLUMN water_method TEXT",
    "ALTER TABLE runs ADD COLUMN planning_g REAL",
    "ALTER TABLE runs ADD COLUMN planning_source TEXT",
    "ALTER TABLE budgets ADD COLUMN counts TEXT NOT NULL DEFAULT 'operational'"
    " CHECK (counts IN ('operational', 'total'))",
]

# 8: the dashboard's sign-ins. A session is a random id held in a cookie and stored only
#    as its SHA-256, with its own CSRF token and an expiry; removing a user ends theirs.
_V8 = [
    """
    CREATE TABLE web_sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        session_hash TEXT NOT NULL UNIQUE,
        csrf TEXT NOT NULL,
        created_at DATETIME NOT NULL,
        expires_at DATETIME NOT NULL
    )
    """,
]

# 9: several launch targets in several grid zones. A plan names the target (and its zone)
#    it chose and why; a run names the target and zone where it really ran, so that its
#    emissions are accounted on that zone's intensity. NULL: the single implicit target.
_V9 = [
    "ALTER TABLE jobs ADD COLUMN plan_target TEXT",
    "ALTER TABLE jobs ADD COLUMN plan_zone TEXT",
    "ALTER TABLE jobs ADD COLUMN plan_where TEXT",
    "ALTER TABLE runs ADD COLUMN target TEXT",
    "ALTER TABLE runs ADD COLUMN zone TEXT",
]

# 10: notifications. A user's own apprise URL (it holds credentials: shown masked, never
#    logged); how far the notifier has read the job events (one row; it starts at the
#    newest event, so an upgraded database does not announce its whole past); when a late
#    job's warning went out (lateness is a flag of the plan, not an event).
_V10 = [
    "ALTER TABLE users ADD COLUMN notify_url TEXT",
    """
    CREATE TABLE notify_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_event_id INTEGER NOT NULL
    )
    """,
    "INSERT INTO notify_cursor (id, last_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM job_events",
    "ALTER TABLE jobs ADD COLUMN late_notified_at DATETIME",
    "UPDATE jobs SET late_notified_at = updated_at WHERE plan_late",
]

# 11: the energy a launch engine measured itself, beside gridwait's own (a cross-check):
#    Slurm's ConsumedEnergyRaw for the run's job, with its method (`slurm_acct`).
_V11 = [
    "ALTER TABLE runs ADD COLUMN engine_energy_j REAL",
    "ALTER TABLE runs ADD COLUMN engine_energy_method TEXT",
]

# 12: a dashboard session names the API token it was signed in with, so that revoking the
#     token ends the sessions it opened. Sessions from before name none: they are ended
#     (their users sign in again).
_V12 = [
    "DELETE FROM web_sessions",
    "ALTER TABLE web_sessions ADD COLUMN token_id INTEGER"
    " REFERENCES api_tokens (id) ON DELETE CASCADE",
]

MIGRATIONS: Sequence[Sequence[str]] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6,
    _V7,
    _V8,
    _V9,
    _V10,
    _V11,
    _V12,
)
"""MIGRATIONS[i] brings a database from version i to version i + 1."""

LATEST = len(MIGRATIONS)


VERSION_QUERY = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
HAS_VERSION_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"


def current_version(conn: Connection) -> int:
    if not conn.exec_driver_sql(HAS_VERSION_TABLE).first():
        return 0
    return int(conn.exec_driver_sql(VERSION_QUERY).scalar_one())


def migrate(conn: Connection, now_iso: str, target: int = LATEST) -> int:
    """Apply the missing migrations up to `target` inside the caller's transaction."""
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    version = current_version(conn)
    if version > LATEST:
        raise StoreError(
            f"database schema version {version} is newer than this gridwait ({LATEST});"
            " upgrade gridwait"
        )
    for number in range(version, target):
        for statement in MIGRATIONS[number]:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (number + 1, now_iso)
        )
    return max(version, target)
