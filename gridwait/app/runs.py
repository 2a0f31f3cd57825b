"""A worker's run, as the service sees it: start (claimed -> running, returning the
ticket), heartbeat with energy samples, finish, suspended.

These are called by the run's own worker only: in-process through `LocalReporter`, and
over HTTP (with the run's token) once the API exists. They take a run id, not an Actor.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from gridwait.app.deps import Deps
from gridwait.errors import NotFoundError
from gridwait.spec import JobSpec
from gridwait.states import RunState
from gridwait.store.models import Job
from gridwait.units import J_PER_KWH
from gridwait.workers.reporter import (
    EXIT_CODES,
    MeterSettings,
    Outcome,
    RunNotOurs,
    Sample,
    Ticket,
)


def _lease(deps: Deps) -> timedelta:
    # domain time: on a simulated clock a real second lasts `factor` domain seconds
    return deps.settings.scheduler.lease(deps.clock.factor)


def start_run(deps: Deps, run_id: int, handle: str, host: str) -> Ticket:
    """Take a claimed run and hand its worker everything it needs."""
    from gridwait.store.jobs import get_job
    from gridwait.store.runs import start

    now = deps.clock.now()
    with deps.store().write() as session:
        run = start(session, run_id, handle, host, now, _lease(deps))
        if run is None:
            raise RunNotOurs(f"run {run_id} is not claimed (already started, or settled)")
        job = get_job(session, run.job_id)
    assert job.id is not None and run.id is not None and run.lease_expires_at is not None
    spec = JobSpec.model_validate_json(job.spec_json)
    if spec.dataset is not None:  # the resolved model and dataset, as stored
        hub = job.dataset.startswith("hub:")
        dataset = spec.dataset.model_copy(
            update={"path": None, "hub": job.dataset.removeprefix("hub:")}
            if hub
            else {"path": job.dataset, "hub": None}
        )
        spec = spec.model_copy(update={"model": job.model, "dataset": dataset})
    energy, scheduler = deps.settings.energy, deps.settings.scheduler
    return Ticket(
        run_id=run.id,
        job_id=job.id,
        attempt=run.attempt,
        segment=run.segment,
        spec=spec,
        deadline=job.deadline,
        gpus=job.gpus,
        threads=None if job.gpus else max(1, (os.cpu_count() or 1) // scheduler.cpu_slots),
        work_dir=str(deps.settings.job_dir(job.id)),
        checkpoint=run.checkpoint,
        segment_end=run.segment_end,
        lease_expires_at=run.lease_expires_at,
        pue=energy.pue,
        intensity_g_per_kwh=_planned_intensity(job),
        meter=MeterSettings(
            cpu_watts_per_core=energy.cpu_watts_per_core,
            ram_watts_per_gb=energy.ram_watts_per_gb,
            hardware=deps.settings.hardware,
            sample_seconds=energy.sample_seconds,
        ),
    )


def _planned_intensity(job: Job) -> float | None:
    """Mean forecast gCO2e/kWh of the planned window: its grams over its facility kWh."""
    if job.plan_forecast_g is None or not job.est_energy_j:
        return None
    return job.plan_forecast_g / (job.est_energy_j / J_PER_KWH)


def heartbeat(deps: Deps, run_id: int, samples: list[Sample]) -> bool:
    """Record the samples and renew the lease; False if the run is no longer running.
    Samples the run has already (a worker resending after a lost answer) are skipped:
    a run's samples only move forward in its elapsed time."""
    from gridwait.store.models import EnergySample
    from gridwait.store.runs import heartbeat as store_heartbeat
    from gridwait.store.runs import last_sample

    with deps.store().write() as session:
        last = last_sample(session, run_id)
        newer = [s for s in samples if last is None or s.elapsed_s > last.elapsed_s]
        rows = [EnergySample(run_id=run_id, **s.model_dump()) for s in newer]
        return store_heartbeat(session, run_id, rows, deps.clock.now(), _lease(deps))


def finish_run(deps: Deps, run_id: int, outcome: Outcome) -> None:
    """Record how the run ended, its energy (x the facility's PUE) and what it trained.
    RunNotOurs if the reaper settled it meanwhile; the service accounts it next tick."""
    from gridwait.store.runs import end, energy_columns

    values: dict[str, Any] = {
        "ended_at": deps.clock.now(),
        "exit_code": EXIT_CODES[outcome.state],
        "error": outcome.error,
        "duration_s": outcome.duration_s,
        "measure_note": outcome.note,
        **energy_columns(outcome.final, deps.settings.energy.pue),
    }
    if outcome.result is not None:
        r = outcome.result
        values.update(
            tokens_real=r.tokens_real,
            tokens_padded=r.tokens_padded,
            steps=r.steps,
            total_steps=r.total_steps,
            final_loss=r.final_loss,
            accuracy=r.accuracy,
            checkpoint=r.checkpoint,
            hardware=r.hardware,
            precision=r.precision,
            model_params=r.model_params,
            flops=r.flops,
            eval_examples=r.eval_examples,
            eval_loss=r.eval_loss,
            eval_accuracy=r.eval_accuracy,
            eval_flops=r.eval_flops,
        )
    with deps.store().write() as session:
        if not end(session, run_id, RunState(outcome.state), values):
            _exists(session, run_id)
            raise RunNotOurs(f"run {run_id} was settled while its worker ran")


def _exists(session: Any, run_id: int) -> None:
    from gridwait.store.models import Run

    if session.get(Run, run_id) is None:
        raise NotFoundError(f"no run with id {run_id}")


def issue_run_token(deps: Deps, run_id: int) -> str:
    """A token for this run's worker alone (shown once, stored as its hash): it reports
    with it over HTTP while the run is claimed or running and its lease holds."""
    from gridwait.app.users import new_secret
    from gridwait.store.models import Run
    from gridwait.store.users import token_hash

    secret = new_secret()
    with deps.store().write() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run with id {run_id}")
        run.token_hash = token_hash(secret)
        session.add(run)
    return secret


def authenticate_run(deps: Deps, secret: str | None, run_id: int) -> None:
    """Pass only this run's own live token: Unauthenticated for none, an unknown one or
    one whose run has ended or lost its lease; PermissionDenied for another run's."""
    from sqlmodel import select

    from gridwait.errors import PermissionDenied, Unauthenticated
    from gridwait.states import LIVE_RUNS
    from gridwait.store.models import Run
    from gridwait.store.users import token_hash

    if not secret:
        raise Unauthenticated("no run token: send 'Authorization: Bearer <token>'")
    with deps.store().read() as session:
        run = session.exec(select(Run).where(Run.token_hash == token_hash(secret))).first()
    expired = (
        run is None
        or run.state not in LIVE_RUNS
        or run.lease_expires_at is None
        or run.lease_expires_at <= deps.clock.now()
    )
    if expired:
        raise Unauthenticated("unknown run token, or its run has ended or lost its lease")
    assert run is not None
    if run.id != run_id:
        raise PermissionDenied(f"run {run_id}: this token is run {run.id}'s")


class LocalReporter:
    """The RunReporter of a worker on the scheduler host: calls the use cases directly."""

    def __init__(self, deps: Deps, run_id: int) -> None:
        self.deps, self.run_id = deps, run_id

    def start(self, handle: str, host: str) -> Ticket:
        return start_run(self.deps, self.run_id, handle, host)

    def heartbeat(self, samples: list[Sample]) -> bool:
        return heartbeat(self.deps, self.run_id, samples)

    def finish(self, outcome: Outcome) -> None:
        finish_run(self.deps, self.run_id, outcome)

    def suspended(self, outcome: Outcome) -> None:
        finish_run(self.deps, self.run_id, outcome)
