"""The tables. Column names carry units: _j joules, _w watts, _g gCO2eq, _s seconds,
and intensities are gCO2eq/kWh. Every measured or derived number sits next to the
method that produced it. The DDL lives in migrations.py; these classes map onto it and a
test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from gridwait.store.types import UTCDateTime


def _time(nullable: bool = True, index: bool = False) -> datetime | None:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)  # type: ignore[no-any-return]


class Job(SQLModel, table=True):
    __tablename__ = "jobs"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    owner: str
    project: str
    model: str
    task: str
    dataset: str
    spec_json: str
    epochs: int
    batch_size: int
    max_length: int
    learning_rate: float
    gpus: int
    interruptible: bool
    padding: str
    max_retries: int
    submitted_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    earliest_start: datetime = _time(nullable=False)  # type: ignore[assignment]
    deadline: datetime = _time(nullable=False)  # type: ignore[assignment]
    state: str
    state_reason: str | None = None
    updated_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    attempts: int = 0
    # The estimate made at submission (estimators): tokens, seconds, joules, watts.
    est_tokens_real: int | None = None
    est_tokens_padded: int | None = None
    est_seconds: float | None = None
    est_energy_j: float | None = None
    est_power_w: float | None = None
    est_low_j: float | None = None
    est_high_j: float | None = None
    est_method: str | None = None
    # The current plan (scheduler): window, forecast and run-now emissions in gCO2eq.
    planned_at: datetime | None = _time()
    planned_start: datetime | None = _time()
    planned_end: datetime | None = _time()
    plan_segments_json: str | None = None
    plan_forecast_g: float | None = None
    plan_run_now_g: float | None = None
    plan_source: str | None = None
    plan_late: bool = False
    plan_target: str | None = None
    """The launch target the plan chose (None: the single implicit one)."""
    plan_zone: str | None = None
    plan_where: str | None = None
    """Why that target: its forecast against the best of the others."""
    late_notified_at: datetime | None = _time()
    """When its owner was told it will be late (once per job)."""


class JobEvent(SQLModel, table=True):
    __tablename__ = "job_events"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id")
    at: datetime = _time(nullable=False)  # type: ignore[assignment]
    from_state: str | None = None
    to_state: str
    reason: str | None = None


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id")
    attempt: int
    segment: int = 0
    state: str
    claimed_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    started_at: datetime | None = _time()
    ended_at: datetime | None = _time()
    lease_expires_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()
    segment_end: datetime | None = _time()
    handle: str | None = None
    """The launcher's handle: a PID locally, a Slurm job id on a cluster."""
    host: str | None = None
    gpu_ids: str | None = None
    log_path: str | None = None
    exit_code: int | None = None
    error: str | None = None
    tokens_real: int | None = None
    tokens_padded: int | None = None
    steps: int | None = None
    final_loss: float | None = None
    accuracy: float | None = None
    eval_examples: int | None = None
    """Examples of the [eval] set, evaluated once training finished."""
    eval_loss: float | None = None
    """Trainer's eval_loss on them."""
    eval_accuracy: float | None = None
    """Share of them classified right (classification only)."""
    eval_flops: float | None = None
    """FLOPs of their forward passes: part of `flops`."""
    hardware: str | None = None
    precision: str | None = None
    model_params: int | None = None
    energy_gpu_j: float | None = None
    energy_cpu_j: float | None = None
    energy_ram_j: float | None = None
    energy_it_j: float | None = None
    energy_facility_j: float | None = None
    pue: float | None = None
    gpu_method: str | None = None
    cpu_method: str | None = None
    ram_method: str | None = None
    measure_note: str | None = None
    emissions_g: float | None = None
    emissions_provisional: bool = False
    forecast_g: float | None = None
    counterfactual_g: float | None = None
    saving_g: float | None = None
    intensity_source: str | None = None
    accounted_at: datetime | None = _time()
    duration_s: float | None = None
    """Real seconds from worker start to exit (not simulated time)."""
    flops: float | None = None
    total_steps: int | None = None
    """Optimizer steps of the whole job; `steps` is how many are done."""
    checkpoint: str | None = None
    token_hash: str | None = None
    """SHA-256 of the run's own API token: its worker reports with it while the run is
    claimed or running and its lease holds."""
    engine_energy_j: float | None = None
    """Joules the launch engine measured for this run's job itself (Slurm's
    ConsumedEnergyRaw: the nodes' energy counters), beside gridwait's own measurement."""
    engine_energy_method: str | None = None
    """How: `slurm_acct`."""
    embodied_g: float | None = None
    """Manufacturing gCO2e of the devices held, for the hours held (not in emissions_g)."""
    embodied_method: str | None = None
    embodied_source: str | None = None
    water_l: float | None = None
    """Litres: water_onsite_l + water_grid_l (the latter where a source is known)."""
    water_onsite_l: float | None = None
    water_grid_l: float | None = None
    water_method: str | None = None
    planning_g: float | None = None
    """gCO2eq on the signal the job was planned on, when it differs from the reported one
    (emissions_g); None when they are the same."""
    planning_source: str | None = None
    target: str | None = None
    """The launch target it ran on (None: the single implicit one, in [grid] zone)."""
    zone: str | None = None
    """The grid zone it ran in: its emissions are accounted on this zone's intensity."""


class EnergySample(SQLModel, table=True):
    """Cumulative joules per component since the run started, and how each was obtained."""

    __tablename__ = "energy_samples"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="runs.id")
    at: datetime = _time(nullable=False)  # type: ignore[assignment]
    elapsed_s: float
    gpu_j: float | None = None
    cpu_j: float | None = None
    ram_j: float | None = None
    gpu_method: str | None = None
    cpu_method: str | None = None
    ram_method: str | None = None


class IntensityPoint(SQLModel, table=True):
    """One period of a fetched series: value in gCO2eq/kWh for [start, start + resolution_s)."""

    __tablename__ = "intensity_points"

    id: int | None = Field(default=None, primary_key=True)
    provider: str
    zone: str
    signal: str
    kind: str
    issued_at: datetime | None = _time()
    start: datetime = _time(nullable=False)  # type: ignore[assignment]
    resolution_s: int
    value: float
    fetched_at: datetime = _time(nullable=False)  # type: ignore[assignment]


class Budget(SQLModel, table=True):
    """A monthly carbon budget in gCO2eq for one user or one project."""

    __tablename__ = "budgets"

    id: int | None = Field(default=None, primary_key=True)
    scope: str
    name: str
    monthly_g: float
    counts: str = "operational"
    """operational (emissions_g) or total (operational + embodied)."""
    created_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    updated_at: datetime = _time(nullable=False)  # type: ignore[assignment]


class TokenLengths(SQLModel, table=True):
    """Per-example token counts (zlib-compressed little-endian uint32) for a cache key of
    dataset content, tokenizer and max_length."""

    __tablename__ = "token_lengths"

    key: str = Field(primary_key=True)
    examples: int
    lengths: bytes
    created_at: datetime = _time(nullable=False)  # type: ignore[assignment]


class User(SQLModel, table=True):
    """A member of the lab, or an admin."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    role: str
    created_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    notify_url: str | None = None
    """Their own apprise URL for notifications; it holds credentials (never logged)."""


class NotifyCursor(SQLModel, table=True):
    """The id of the last job event the notifier has dealt with (a single row)."""

    __tablename__ = "notify_cursor"

    id: int = Field(default=1, primary_key=True)
    last_event_id: int


class ApiToken(SQLModel, table=True):
    """A user's API token, stored only as its SHA-256; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    name: str
    token_hash: str = Field(unique=True)
    created_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    last_used_at: datetime | None = _time()


class WebSession(SQLModel, table=True):
    """A dashboard sign-in: the session id is stored only as its SHA-256; `csrf` is the
    token every form of the session must carry."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    session_hash: str = Field(unique=True)
    csrf: str
    token_id: int | None = Field(default=None, foreign_key="api_tokens.id")
    """The API token signed in with: revoking it ends the session (ON DELETE CASCADE)."""
    created_at: datetime = _time(nullable=False)  # type: ignore[assignment]
    expires_at: datetime = _time(nullable=False)  # type: ignore[assignment]
