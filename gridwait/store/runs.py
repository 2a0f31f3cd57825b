"""Runs: one attempt (or one segment) of a job on a worker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, text, update
from sqlmodel import Session, col, select

from gridwait.errors import NotFoundError
from gridwait.states import LIVE_RUNS, JobState, RunState, run_sources
from gridwait.store.models import EnergySample, Job, JobEvent, Run


def runs_of(session: Session, job_id: int) -> Sequence[Run]:
    return session.exec(select(Run).where(Run.job_id == job_id).order_by(col(Run.id))).all()


_MEASURED = text(
    "SELECT jobs.model, runs.hardware, runs.precision, runs.tokens_padded, runs.flops,"
    " runs.duration_s, runs.energy_it_j, runs.energy_gpu_j, runs.energy_cpu_j, runs.eval_flops"
    " FROM runs JOIN jobs ON jobs.id = runs.job_id"
    f" WHERE runs.state = '{RunState.SUCCEEDED}' AND runs.duration_s IS NOT NULL"
    " AND runs.energy_it_j IS NOT NULL AND runs.tokens_padded IS NOT NULL"
    " AND runs.hardware IS NOT NULL"
)


def measured_runs(session: Session) -> list[dict[str, Any]]:
    """Finished runs with a measured duration and energy, for calibration."""
    return [dict(row._mapping) for row in session.connection().execute(_MEASURED)]


def progress_of(session: Session, job_id: int) -> float:
    """Share of a job's work already done by its earlier (suspended) segments, 0..1."""
    row = (
        session.connection()
        .execute(
            text(
                "SELECT MAX(runs.steps), MAX(runs.total_steps) FROM runs"
                " WHERE runs.job_id = :job AND runs.steps IS NOT NULL"
            ),
            {"job": job_id},
        )
        .first()
    )
    if row is None or not row[0] or not row[1]:
        return 0.0
    return min(1.0, float(row[0]) / float(row[1]))


# ---- the life of a run --------------------------------------------------------------------


def claim(
    session: Session,
    job_id: int,
    planned_start: datetime | None,
    now: datetime,
    lease: timedelta,
    gpu_ids: str,
    segment_end: datetime | None,
) -> Run | None:
    """Atomically take a planned job for one run: the job moves planned -> running only if
    it is still planned for the same start (a conditional UPDATE whose rowcount proves
    the claim), and a `claimed` run holding a lease is created. None if someone else
    claimed it or the plan changed."""
    result = session.connection().execute(
        update(Job)
        .where(
            col(Job.id) == job_id,
            col(Job.state) == JobState.PLANNED,
            col(Job.planned_start) == planned_start,
        )
        .values(
            state=JobState.RUNNING,
            updated_at=now,
            attempts=Job.attempts + 1,
            state_reason="started",
        )
    )
    if result.rowcount != 1:
        return None
    job = session.get(Job, job_id)
    assert job is not None
    session.refresh(job)
    session.add(
        JobEvent(
            job_id=job_id,
            at=now,
            from_state=JobState.PLANNED,
            to_state=JobState.RUNNING,
            reason="started",
        )
    )
    previous = session.exec(
        select(Run).where(Run.job_id == job_id).order_by(col(Run.id).desc())
    ).first()
    run = Run(
        job_id=job_id,
        attempt=job.attempts,
        segment=0 if previous is None else previous.segment + 1,
        state=RunState.CLAIMED,
        claimed_at=now,
        lease_expires_at=now + lease,
        gpu_ids=gpu_ids,
        segment_end=segment_end,
        checkpoint=previous.checkpoint if previous is not None else None,
    )
    session.add(run)
    session.flush()
    return run


def book(
    session: Session,
    job_id: int,
    now: datetime,
    lease_until: datetime,
    segment_end: datetime | None,
) -> Run | None:
    """A run booked ahead for a planned job, for a launcher that queues it in its engine
    (Slurm): `claimed`, holding a lease until `lease_until` (the planned start plus a
    lease), while the job stays planned, so that a re-plan can still move it. None if the
    job is not planned or already has a live run. The job becomes running (an attempt)
    when the worker starts (`start`)."""
    job = session.get(Job, job_id)
    if job is None or job.state != JobState.PLANNED:
        return None
    live = session.exec(
        select(Run).where(Run.job_id == job_id, col(Run.state).in_([s.value for s in LIVE_RUNS]))
    ).first()
    if live is not None:
        return None
    previous = session.exec(
        select(Run).where(Run.job_id == job_id).order_by(col(Run.id).desc())
    ).first()
    run = Run(
        job_id=job_id,
        attempt=job.attempts + 1,
        segment=0 if previous is None else previous.segment + 1,
        state=RunState.CLAIMED,
        claimed_at=now,
        lease_expires_at=lease_until,
        gpu_ids="",
        segment_end=segment_end,
        checkpoint=previous.checkpoint if previous is not None else None,
    )
    session.add(run)
    session.flush()
    return run


def start(
    session: Session, run_id: int, handle: str, host: str, now: datetime, lease: timedelta
) -> Run | None:
    """The worker takes its claimed run (claimed -> running); None if it is not claimed.
    The handle is kept if the service already stored the launcher's own. A run booked
    ahead (its job still planned) makes its job running now: the engine started it."""
    result = session.connection().execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.state) == RunState.CLAIMED)
        .values(
            state=RunState.RUNNING,
            started_at=now,
            handle=func.coalesce(Run.handle, handle),
            host=host,
            heartbeat_at=now,
            lease_expires_at=now + lease,
        )
    )
    if result.rowcount != 1:
        return None
    run = session.get(Run, run_id)
    assert run is not None
    session.refresh(run)
    job = session.get(Job, run.job_id)
    if job is not None and job.state == JobState.PLANNED:
        job.attempts += 1
        job.state, job.state_reason, job.updated_at = JobState.RUNNING, "started", now
        session.add(job)
        session.add(
            JobEvent(
                job_id=run.job_id,
                at=now,
                from_state=JobState.PLANNED,
                to_state=JobState.RUNNING,
                reason=f"started by the engine (run {run_id}, {run.handle})",
            )
        )
    return run


def set_token(session: Session, run_id: int, hashed: str) -> None:
    """Store the hash of the run's own token (the secret itself is never stored)."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run with id {run_id}")
    run.token_hash = hashed
    session.add(run)


def heartbeat(
    session: Session, run_id: int, samples: Sequence[EnergySample], now: datetime, lease: timedelta
) -> bool:
    """Record samples and renew the lease; False if the run is no longer ours (reaped)."""
    result = session.connection().execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.state) == RunState.RUNNING)
        .values(heartbeat_at=now, lease_expires_at=now + lease)
    )
    if result.rowcount != 1:
        return False
    session.add_all(samples)
    return True


class Joules(Protocol):
    """Cumulative IT joules per component and how each was had: an energy sample."""

    @property
    def gpu_j(self) -> float | None: ...
    @property
    def cpu_j(self) -> float | None: ...
    @property
    def ram_j(self) -> float | None: ...
    @property
    def gpu_method(self) -> str | None: ...
    @property
    def cpu_method(self) -> str | None: ...
    @property
    def ram_method(self) -> str | None: ...


def energy_columns(sample: Joules, pue: float) -> dict[str, Any]:
    """A run's energy columns from its last cumulative sample: per component with its
    method, IT energy, and facility energy (IT x PUE)."""
    it = sum(j for j in (sample.gpu_j, sample.cpu_j, sample.ram_j) if j is not None)
    return {
        "energy_gpu_j": sample.gpu_j,
        "energy_cpu_j": sample.cpu_j,
        "energy_ram_j": sample.ram_j,
        "energy_it_j": it,
        "pue": pue,
        "energy_facility_j": it * pue,
        "gpu_method": sample.gpu_method,
        "cpu_method": sample.cpu_method,
        "ram_method": sample.ram_method,
    }


def last_sample(session: Session, run_id: int) -> EnergySample | None:
    return session.exec(
        select(EnergySample)
        .where(EnergySample.run_id == run_id)
        .order_by(col(EnergySample.id).desc())
        .limit(1)
    ).first()


def end(session: Session, run_id: int, target: RunState, values: dict[str, Any]) -> bool:
    """Move a run to `target` with `values` if its state allows it (a conditional UPDATE:
    a worker's finish and the reaper cannot both end a run); False if it did not."""
    sources = [s.value for s in run_sources(target)]
    result = session.connection().execute(
        update(Run)
        .where(col(Run.id) == run_id, col(Run.state).in_(sources))
        .values(state=target, **values)
    )
    return bool(result.rowcount == 1)


def samples_of(session: Session, run_id: int) -> Sequence[EnergySample]:
    return session.exec(
        select(EnergySample).where(EnergySample.run_id == run_id).order_by(col(EnergySample.id))
    ).all()


def runs_in(session: Session, states: Iterable[RunState]) -> Sequence[Run]:
    return session.exec(
        select(Run).where(col(Run.state).in_([s.value for s in states])).order_by(col(Run.id))
    ).all()


def provisional_runs(session: Session) -> Sequence[Run]:
    return session.exec(select(Run).where(col(Run.emissions_provisional).is_(True))).all()
