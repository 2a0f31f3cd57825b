"""Runs booked ahead (a launcher with its own queue): the job stays planned, so a re-plan
can move it, until the worker starts and makes it running."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from gridwait.clock import ManualClock
from gridwait.states import JobState, RunState
from gridwait.store.engine import Store
from gridwait.store.jobs import events, get_job, transition
from gridwait.store.runs import book, start
from tests.conftest import T0
from tests.store.test_jobs import submit

LEASE = timedelta(minutes=1)


def test_a_booked_run_leaves_its_job_planned_until_the_worker_starts(
    tmp_path: Path, dataset: Path
) -> None:
    store = Store(tmp_path / "b.db", ManualClock(T0))
    job_id = submit(store, dataset)
    with store.write() as session:
        assert book(session, job_id, T0, T0 + LEASE, None) is None  # queued, not planned
        transition(session, get_job(session, job_id), JobState.PLANNED, T0, "planned")
    with store.write() as session:
        run = book(session, job_id, T0, T0 + 3 * LEASE, None)
        assert run is not None and run.id is not None
        assert run.state == RunState.CLAIMED and run.attempt == 1
        assert book(session, job_id, T0, T0 + LEASE, None) is None  # one live run per job
        job = get_job(session, job_id)
        assert job.state == JobState.PLANNED and job.attempts == 0
    later = T0 + timedelta(hours=2)
    with store.write() as session:
        started = start(session, run.id, "4242", "node7", later, LEASE)
        assert started is not None and started.handle == "4242"
        job = get_job(session, job_id)
        assert job.state == JobState.RUNNING and job.attempts == 1
        assert events(session, job_id)[-1].reason == "started by the engine (run 1, 4242)"
        assert start(session, run.id, "4242", "node7", later, LEASE) is None  # only once
