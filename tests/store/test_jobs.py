from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridwait.clock import ManualClock
from gridwait.errors import NotFoundError, StateError
from gridwait.spec import resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, events, get_job, transition
from tests.conftest import T0, minilm_spec


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.db", ManualClock(T0))


def submit(store: Store, dataset: Path) -> int:
    spec = minilm_spec("j", "4h", dataset)
    with store.write() as session:
        job = add_job(session, resolve(spec, T0, dataset.parent), 1, T0)
    assert job.id is not None
    return job.id


def test_transitions_write_events(store: Store, dataset: Path) -> None:
    job_id = submit(store, dataset)
    later = T0 + timedelta(minutes=5)
    with store.write() as session:
        job = get_job(session, job_id)
        transition(session, job, JobState.PLANNED, later, "window 02:00-03:00")
        transition(session, job, JobState.RUNNING, later, "started")
    with store.read() as session:
        job = get_job(session, job_id)
        history = events(session, job_id)
    assert job.state == "running" and job.updated_at == later
    assert [(e.from_state, e.to_state, e.reason) for e in history] == [
        (None, "queued", "submitted"),
        ("queued", "planned", "window 02:00-03:00"),
        ("planned", "running", "started"),
    ]


def test_illegal_transition_writes_nothing(store: Store, dataset: Path) -> None:
    job_id = submit(store, dataset)
    with pytest.raises(StateError), store.write() as session:
        transition(session, get_job(session, job_id), JobState.SUCCEEDED, T0)
    with store.read() as session:
        assert get_job(session, job_id).state == "queued"
        assert len(events(session, job_id)) == 1


def test_missing_job(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no job with id 9"), store.read() as session:
        get_job(session, 9)


def test_times_come_back_utc(store: Store, dataset: Path) -> None:
    job_id = submit(store, dataset)
    with store.read() as session:
        job = get_job(session, job_id)
    assert job.submitted_at == T0 and job.deadline == T0 + timedelta(hours=4)
    assert job.deadline.tzinfo is not None
