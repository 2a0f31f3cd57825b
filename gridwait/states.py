"""The job state machine, in one place.

    queued ──► planned ──► running ──► succeeded
      │  ▲        │  ▲        │  ├───► failed
      ▼  │        ▼  │        │  └───► suspended ──► planned / queued
     held ◄───────┘  └────────┘ (re-queued after a lost run)
    any non-final state ──► cancelled

`queued` waits for the planner; `held` waits for a budget; `planned` has a start time;
`suspended` is an interruptible job between segments. succeeded, failed and cancelled are
final. Every transition is written as a job event by the store.
"""

from __future__ import annotations

from enum import StrEnum

from gridwait.errors import StateError


class JobState(StrEnum):
    QUEUED = "queued"
    HELD = "held"
    PLANNED = "planned"
    RUNNING = "running"
    SUSPENDED = "suspended"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})

_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.PLANNED, JobState.HELD, JobState.CANCELLED}),
    JobState.HELD: frozenset({JobState.QUEUED, JobState.PLANNED, JobState.CANCELLED}),
    JobState.PLANNED: frozenset(
        {JobState.QUEUED, JobState.HELD, JobState.RUNNING, JobState.CANCELLED}
    ),
    JobState.RUNNING: frozenset(
        {
            JobState.SUCCEEDED,
            JobState.FAILED,
            JobState.SUSPENDED,
            JobState.QUEUED,
            JobState.CANCELLED,
        }
    ),
    JobState.SUSPENDED: frozenset(
        {JobState.PLANNED, JobState.QUEUED, JobState.HELD, JobState.CANCELLED}
    ),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


def allowed(source: JobState, target: JobState) -> bool:
    return target in _ALLOWED[source]


def check_transition(job_id: int, source: str, target: str) -> tuple[JobState, JobState]:
    """Both states as enums, or StateError naming the job and the refused move."""
    src, dst = JobState(source), JobState(target)
    if not allowed(src, dst):
        if src in FINAL:
            raise StateError(f"job {job_id} is already {src}; it cannot become {dst}")
        raise StateError(f"job {job_id} cannot go from {src} to {dst}")
    return src, dst
