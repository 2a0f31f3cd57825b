"""What the notifier reads and writes: the job events since its cursor, late jobs not yet
announced, and users' own notification URLs.

Functions take an open session; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from gridwait.states import JobState
from gridwait.store.models import Job, JobEvent, NotifyCursor, User


def cursor(session: Session) -> int:
    """The id of the last job event dealt with (the migration seeds the row)."""
    row = session.get(NotifyCursor, 1)
    return 0 if row is None else row.last_event_id


def advance(session: Session, event_id: int) -> None:
    row = session.get(NotifyCursor, 1) or NotifyCursor(id=1, last_event_id=0)
    row.last_event_id = max(row.last_event_id, event_id)
    session.add(row)


def events_after(session: Session, event_id: int, limit: int) -> Sequence[JobEvent]:
    query = (
        select(JobEvent).where(col(JobEvent.id) > event_id).order_by(col(JobEvent.id)).limit(limit)
    )
    return session.exec(query).all()


def resumes(session: Session, job_id: int, event_id: int) -> bool:
    """Whether this start resumes the job: its previous run ended suspended (a segment of
    an interruptible job), not lost, never started or retried."""
    query = (
        select(JobEvent.to_state)
        .where(
            col(JobEvent.job_id) == job_id,
            col(JobEvent.id) < event_id,
            col(JobEvent.from_state) == JobState.RUNNING,
        )
        .order_by(col(JobEvent.id).desc())
        .limit(1)
    )
    return session.exec(query).first() == JobState.SUSPENDED


def late_unannounced(session: Session) -> Sequence[Job]:
    """Jobs the plan marks late, planned or running, whose owner has not been told."""
    query = (
        select(Job)
        .where(
            col(Job.plan_late),
            col(Job.late_notified_at).is_(None),
            col(Job.state).in_([JobState.PLANNED.value, JobState.RUNNING.value]),
        )
        .order_by(col(Job.id))
    )
    return session.exec(query).all()


def mark_late_announced(session: Session, job_id: int, now: datetime) -> None:
    job = session.get(Job, job_id)
    if job is not None:
        job.late_notified_at = now
        session.add(job)


def notify_url_of(session: Session, name: str) -> str | None:
    """A user's own notification URL; None for none, or for an owner without an account."""
    user = session.exec(select(User).where(User.name == name)).first()
    return None if user is None else user.notify_url
