"""The job state machine, in one place.

    queued ──► planned ──► running ──► succeeded
      │  ▲        │  ▲        │  ├───► failed
      ▼  │        ▼  │        │  └───► suspended ──► planned / queued
     held ◄───────┘  └────────┘ (re-queued after a lost run)
    any non-final state ──► cancelled

`queued` waits for the planner; `held` waits for a budget; `planned` has a start time;
`suspended` is an interruptible job between segments. succeeded, failed and cancelled are
final. Every transition is written as a job event by the store.

A run (one attempt or one segment of a job on a worker) has its own machine:

    claimed ──► running ──► succeeded | failed | suspended   (reported by the worker)
       │           │
       └───────────┴──────► lost                             (settled by the reaper)

`claimed` holds a lease before the worker has started; `lost` is a run whose worker
vanished or never started. Only the reporter's finish and the reaper end a run.
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


class RunState(StrEnum):
    CLAIMED = "claimed"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUSPENDED = "suspended"
    LOST = "lost"


LIVE_RUNS = frozenset({RunState.CLAIMED, RunState.RUNNING})
"""A worker may be (about to be) working on it: it holds GPUs and a lease."""
REPORTED_RUNS = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.SUSPENDED})
"""The worker reported how it ended."""
FINAL_RUNS = REPORTED_RUNS | {RunState.LOST}

_RUN_ALLOWED: dict[RunState, frozenset[RunState]] = {
    RunState.CLAIMED: frozenset({RunState.RUNNING, RunState.LOST}),
    RunState.RUNNING: frozenset(
        {RunState.SUCCEEDED, RunState.FAILED, RunState.SUSPENDED, RunState.LOST}
    ),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset(),
    RunState.SUSPENDED: frozenset(),
    RunState.LOST: frozenset(),
}


def run_sources(target: RunState) -> frozenset[RunState]:
    """The states a run may reach `target` from (for conditional UPDATEs)."""
    return frozenset(s for s, targets in _RUN_ALLOWED.items() if target in targets)


def check_run_transition(run_id: int, source: str, target: str) -> tuple[RunState, RunState]:
    """Both states as enums, or StateError naming the run and the refused move."""
    src, dst = RunState(source), RunState(target)
    if dst not in _RUN_ALLOWED[src]:
        if src in FINAL_RUNS:
            raise StateError(f"run {run_id} is already {src}; it cannot become {dst}")
        raise StateError(f"run {run_id} cannot go from {src} to {dst}")
    return src, dst


def sql_in(states: frozenset[str] | set[str] | tuple[str, ...]) -> str:
    """A SQL list literal of state names, e.g. ('planned', 'running'), for queries that
    compare against a fixed set of states; the names come from the enums above, never
    from input."""
    return "(" + ", ".join(f"'{s}'" for s in sorted(states)) + ")"
