"""Jobs and their events: submission, transitions, lookups.

Functions take an open session and `now`; the caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from gridwait.errors import NotFoundError
from gridwait.spec import JobSpec, Submission
from gridwait.states import JobState, check_transition
from gridwait.store.models import Job, JobEvent


def stored_spec(sub: Submission) -> JobSpec:
    """The spec as the worker will need it: a script's folder and the eval file absolute
    (the dataset's absolute path is the job's `dataset` column)."""
    update: dict[str, object] = {}
    if sub.workdir is not None:
        update["workdir"] = str(sub.workdir)
    if sub.eval_path is not None and sub.spec.eval is not None:
        update["eval"] = sub.spec.eval.model_copy(update={"path": str(sub.eval_path)})
    return sub.spec.model_copy(update=update) if update else sub.spec


def add_job(session: Session, sub: Submission, max_retries: int, now: datetime) -> Job:
    """A new queued job from a resolved submission; `max_retries` is the lab's default."""
    spec = sub.spec
    job = Job(
        name=spec.name,
        owner=spec.owner,
        project=spec.project,
        model=sub.model or "",  # "": a script job that declared its duration
        task=spec.task,
        dataset=sub.dataset or "",
        spec_json=stored_spec(sub).model_dump_json(),
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        max_length=spec.max_length,
        learning_rate=spec.learning_rate,
        gpus=spec.gpus,
        interruptible=spec.interruptible,
        padding=spec.padding,
        max_retries=spec.max_retries if spec.max_retries is not None else max_retries,
        submitted_at=sub.submitted_at,
        earliest_start=sub.earliest_start,
        deadline=sub.deadline,
        state=JobState.QUEUED,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    assert job.id is not None
    session.add(
        JobEvent(
            job_id=job.id, at=now, from_state=None, to_state=JobState.QUEUED, reason="submitted"
        )
    )
    return job


def transition(
    session: Session, job: Job, target: JobState, now: datetime, reason: str | None = None
) -> Job:
    """Move `job` to `target` (StateError if not allowed) and write the event."""
    assert job.id is not None
    source, dest = check_transition(job.id, job.state, target)
    job.state = dest
    job.state_reason = reason
    job.updated_at = now
    session.add(job)
    session.add(JobEvent(job_id=job.id, at=now, from_state=source, to_state=dest, reason=reason))
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job with id {job_id}")
    return job


def jobs_in(session: Session, states: Iterable[JobState]) -> Sequence[Job]:
    query = select(Job).where(col(Job.state).in_([s.value for s in states])).order_by(col(Job.id))
    return session.exec(query).all()


def events(session: Session, job_id: int) -> Sequence[JobEvent]:
    query = select(JobEvent).where(JobEvent.job_id == job_id).order_by(col(JobEvent.id))
    return session.exec(query).all()


def plan_segments(job: Job) -> list[tuple[datetime, datetime]]:
    if not job.plan_segments_json:
        return []
    return [
        (datetime.fromisoformat(a), datetime.fromisoformat(b))
        for a, b in json.loads(job.plan_segments_json)
    ]
