"""Researchers' use cases: submit, cancel, show, queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import (
    EstimateView,
    EventView,
    JobView,
    PlanSummary,
    QueueRow,
    RunView,
    SampleView,
    StoredEstimate,
    Submitted,
)
from gridwait.errors import SpecError
from gridwait.spec import JobSpec, Submission
from gridwait.units import kwh_or_none

if TYPE_CHECKING:
    from gridwait.store.models import Job


@dataclass(frozen=True)
class QueueFilter:
    include_final: bool = False
    owner: str | None = None
    project: str | None = None


def owner_for(actor: Actor, spec: JobSpec) -> JobSpec:
    """The spec with its owner settled: the actor unless the spec names one; a member
    may only name themself."""
    if "owner" not in spec.model_fields_set:
        return spec.model_copy(update={"owner": actor.name})
    actor.require_owner(spec.owner, f"submit as {spec.owner}")
    return spec


def submit_remote(deps: Deps, actor: Actor, spec: JobSpec) -> Submitted:
    """Submit a spec sent over the network: the owner is checked first, then its paths
    are resolved on the scheduler host."""
    spec = owner_for(actor, spec)
    return submit(deps, actor, _resolve_remote(spec, deps.clock.now()))


def estimate_remote(
    deps: Deps, actor: Actor, spec: JobSpec, hardware: str | None = None
) -> EstimateView:
    """Estimate a spec sent over the network, its paths resolved on the scheduler host."""
    from gridwait.app.estimates import estimate_spec

    return estimate_spec(deps, actor, _resolve_remote(spec, deps.clock.now()), hardware)


def _resolve_remote(spec: JobSpec, now: datetime) -> Submission:
    """A spec sent over the network, resolved on the scheduler host: its paths must be
    absolute (the client makes a relative path absolute) and visible here."""
    from pathlib import Path

    from gridwait.spec import resolve

    where = "is not visible on the scheduler host"
    data = spec.dataset.path if spec.dataset else None
    if data is not None:
        path = Path(data)
        if not path.is_absolute():
            raise SpecError(f"dataset.path: {data} is relative; send an absolute path")
        if not path.exists():
            raise SpecError(f"dataset.path: {data} {where}")
    model = spec.model or ""
    if model.startswith(("/", "~")) and not Path(model).expanduser().exists():
        raise SpecError(f"model: {model} {where}")
    if model.startswith(("./", "../")):
        raise SpecError(f"model: {model} is relative; send an absolute path")
    if spec.kind == "script" and not (spec.workdir and Path(spec.workdir).is_absolute()):
        raise SpecError("workdir: a script job sent to the service names its folder absolutely")
    return resolve(spec, now, Path("/"))


def submit(
    deps: Deps, actor: Actor, sub: Submission, progress: Callable[[int, int], None] | None = None
) -> Submitted:
    """Estimate and queue one resolved spec: nothing is written unless all of it works."""
    from gridwait.app.estimates import apply_estimate, estimate_submission, estimate_view
    from gridwait.store.jobs import add_job

    sub = replace(sub, spec=owner_for(actor, sub.spec))
    # a job runs on one launch target: the largest one bounds it (the only one: this box
    # or the Slurm partition)
    lab = max(t.gpus for t in deps.settings.launch_targets())
    if sub.spec.gpus > lab:
        where = " on any one target" if deps.settings.several_targets else ""
        raise SpecError(
            f"gpus: the lab lends gridwait {lab} GPU(s){where}; this job asks for {sub.spec.gpus}"
        )
    est, note = estimate_submission(deps, sub, progress=progress)
    with deps.store().write() as session:
        job = add_job(session, sub, deps.settings.scheduler.max_retries, deps.clock.now())
        apply_estimate(job, est)
        session.add(job)
        session.flush()
        row = _queue_row(job.model_dump())
    return Submitted(job=row, estimate=estimate_view(est, note))


def cancel(deps: Deps, actor: Actor, job_id: int) -> QueueRow:
    """Cancel a job: a member their own, an admin any. A running worker is stopped by
    the service at its next tick."""
    from gridwait.states import JobState
    from gridwait.store.jobs import get_job, transition

    with deps.store().write() as session:
        job = get_job(session, job_id)
        actor.require_owner(job.owner, f"cancel job {job_id}")
        who = "owner" if job.owner == actor.name else f"admin {actor.name}"
        transition(session, job, JobState.CANCELLED, deps.clock.now(), f"cancelled by {who}")
        return _queue_row(job.model_dump())


def show(deps: Deps, actor: Actor, job_id: int) -> JobView:
    """Everything about one job; the lab's queue is readable by every member."""
    from gridwait.store.jobs import events, get_job
    from gridwait.store.runs import runs_of

    del actor  # every user reads the lab's queue
    with deps.store().read() as session:
        job = get_job(session, job_id)
        history = events(session, job_id)
        runs = runs_of(session, job_id)
    assert job.id is not None
    return JobView(
        id=job.id,
        name=job.name,
        owner=job.owner,
        project=job.project,
        state=job.state,
        reason=job.state_reason,
        model=job.model,
        task=job.task,
        dataset=job.dataset,
        epochs=job.epochs,
        batch_size=job.batch_size,
        max_length=job.max_length,
        learning_rate=job.learning_rate,
        padding=job.padding,
        gpus=job.gpus,
        interruptible=job.interruptible,
        max_retries=job.max_retries,
        attempts=job.attempts,
        submitted_at=job.submitted_at,
        earliest_start=job.earliest_start,
        deadline=job.deadline,
        updated_at=job.updated_at,
        estimate=_stored_estimate(job),
        plan=_plan_summary(job),
        events=[
            EventView(at=e.at, from_state=e.from_state, to_state=e.to_state, reason=e.reason)
            for e in history
        ],
        runs=[run_view(r.model_dump()) for r in runs],
    )


def samples(deps: Deps, actor: Actor, job_id: int) -> list[SampleView]:
    """The energy samples of every run of a job, in order (the job's page draws them)."""
    from gridwait.store.jobs import get_job
    from gridwait.store.runs import runs_of, samples_of

    del actor  # every user reads the lab's queue
    with deps.store().read() as session:
        get_job(session, job_id)  # NotFoundError for an unknown job
        rows = [s for r in runs_of(session, job_id) if r.id for s in samples_of(session, r.id)]
    return [SampleView.model_validate(r) for r in rows]


def queue(deps: Deps, actor: Actor, which: QueueFilter) -> list[QueueRow]:
    """Waiting and running jobs (with `include_final`, finished ones too), oldest first."""
    from gridwait.store.queries import queue_rows

    del actor  # every user reads the lab's queue
    with deps.reader() as conn:
        rows = queue_rows(conn, which.include_final, which.owner, which.project)
    return _QUEUE_ROWS.validate_python(rows)  # in one pass: 10,000 rows in tens of ms


_QUEUE_ROWS = TypeAdapter(list[QueueRow])


def _queue_row(job: dict[str, Any]) -> QueueRow:
    """A job row of the ORM as a queue row."""
    return QueueRow.model_validate(
        {
            **job,
            "est_energy_kwh": kwh_or_none(job["est_energy_j"]),
            "late": job["plan_late"],
            "reason": job["state_reason"],
        }
    )


def _stored_estimate(job: Job) -> StoredEstimate | None:
    if job.est_method is None:
        return None
    return StoredEstimate(
        tokens_real=job.est_tokens_real,
        tokens_padded=job.est_tokens_padded,
        seconds=job.est_seconds,
        energy_kwh=kwh_or_none(job.est_energy_j),
        energy_low_kwh=kwh_or_none(job.est_low_j),
        energy_high_kwh=kwh_or_none(job.est_high_j),
        power_w=job.est_power_w,
        method=job.est_method,
    )


def _plan_summary(job: Job) -> PlanSummary | None:
    from gridwait.store.jobs import plan_segments

    if job.planned_start is None:
        return None
    return PlanSummary(
        planned_at=job.planned_at,
        start=job.planned_start,
        end=job.planned_end,
        segments=plan_segments(job),
        forecast_g=job.plan_forecast_g,
        run_now_g=job.plan_run_now_g,
        source=job.plan_source,
        late=job.plan_late,
        target=job.plan_target,
        zone=job.plan_zone,
        where=job.plan_where,
    )


def run_view(run: dict[str, Any]) -> RunView:
    return RunView(
        id=run["id"],
        attempt=run["attempt"],
        segment=run["segment"],
        state=run["state"],
        claimed_at=run["claimed_at"],
        started_at=run["started_at"],
        ended_at=run["ended_at"],
        handle=run["handle"],
        host=run["host"],
        gpu_ids=run["gpu_ids"],
        log_path=run["log_path"],
        exit_code=run["exit_code"],
        error=run["error"],
        duration_s=run["duration_s"],
        energy_kwh=kwh_or_none(run["energy_facility_j"]),
        it_energy_kwh=kwh_or_none(run["energy_it_j"]),
        gpu_kwh=kwh_or_none(run["energy_gpu_j"]),
        cpu_kwh=kwh_or_none(run["energy_cpu_j"]),
        ram_kwh=kwh_or_none(run["energy_ram_j"]),
        pue=run["pue"],
        gpu_method=run["gpu_method"],
        cpu_method=run["cpu_method"],
        ram_method=run["ram_method"],
        emissions_g=run["emissions_g"],
        provisional=bool(run["emissions_provisional"]),
        forecast_g=run["forecast_g"],
        counterfactual_g=run["counterfactual_g"],
        saving_g=run["saving_g"],
        intensity_source=run["intensity_source"],
        tokens_real=run["tokens_real"],
        tokens_padded=run["tokens_padded"],
        steps=run["steps"],
        total_steps=run["total_steps"],
        train_loss=run["final_loss"],
        train_accuracy=run["accuracy"],
        eval_examples=run["eval_examples"],
        eval_loss=run["eval_loss"],
        eval_accuracy=run["eval_accuracy"],
        hardware=run["hardware"],
        precision=run["precision"],
        target=run.get("target"),
        zone=run.get("zone"),
    )
