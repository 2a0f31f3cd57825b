"""Processes racing on one database: 8 submitting 500 jobs each (no lock errors, no lost
or duplicated rows), and 8 claiming the same run (exactly one wins)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gridwait.clock import SystemClock
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, transition
from gridwait.store.runs import claim, start

PROCESSES = 8
JOBS_EACH = 500
LEASE = timedelta(minutes=5)


def _submitter(db: str, dataset: str, worker: int) -> None:
    store = Store(Path(db), SystemClock())
    spec = JobSpec.model_validate(
        {
            "name": f"w{worker}",
            "model": "builtin:minilm",
            "deadline": "4h",
            "dataset": {"path": dataset},
        }
    )
    for _ in range(JOBS_EACH):
        now = SystemClock().now()
        with store.write() as session:  # one transaction per submission, as the CLI does
            add_job(session, resolve(spec, now, Path(dataset).parent), 1, now)
    store.close()


@pytest.mark.slow
def test_parallel_submitters(tmp_path: Path, dataset: Path) -> None:
    db = tmp_path / "c.db"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_submitter, args=(str(db), str(dataset), i)) for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM jobs").fetchone()
        events = conn.execute("SELECT COUNT(*) FROM job_events").fetchone()[0]
        per_worker = dict(conn.execute("SELECT name, COUNT(*) FROM jobs GROUP BY name").fetchall())
    assert total == distinct == PROCESSES * JOBS_EACH
    assert events == total
    assert per_worker == {f"w{i}": JOBS_EACH for i in range(PROCESSES)}


def _claimer(db: str, job_id: int, planned: str, gate: Any, won: Any) -> None:
    store = Store(Path(db), SystemClock())
    gate.wait(timeout=60)  # all eight try at the same moment
    now = SystemClock().now()
    with store.write() as session:
        run = claim(session, job_id, datetime.fromisoformat(planned), now, LEASE, "", None)
    if run is not None:
        won.put(("claim", run.id))
    gate.wait(timeout=60)
    with store.write() as session:
        started = start(session, 1, f"pid-{os.getpid()}", "host", SystemClock().now(), LEASE)
    if started is not None:
        won.put(("start", os.getpid()))
    store.close()


@pytest.mark.slow
def test_eight_processes_race_for_one_run_and_exactly_one_wins(
    tmp_path: Path, dataset: Path
) -> None:
    """The claim (job planned -> running, a run created) and the worker's start (run
    claimed -> running) are each won by exactly one of 8 processes racing for them."""
    db = tmp_path / "race.db"
    store = Store(db, SystemClock())
    now = SystemClock().now()
    spec = JobSpec.model_validate(
        {
            "name": "race",
            "model": "builtin:minilm",
            "deadline": "4h",
            "dataset": {"path": str(dataset)},
        }
    )
    with store.write() as session:
        job = add_job(session, resolve(spec, now, dataset.parent), 1, now)
        job.planned_start = now
        transition(session, job, JobState.PLANNED, now, "test")
    store.close()
    ctx = multiprocessing.get_context("spawn")
    gate, won = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_claimer, args=(str(db), job.id, now.isoformat(), gate, won))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    wins = [won.get(timeout=5) for _ in range(2)]
    assert won.empty()
    assert sorted(kind for kind, _ in wins) == ["claim", "start"]
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT id, state, handle FROM runs").fetchall()
        attempts = conn.execute("SELECT attempts, state FROM jobs").fetchone()
    starter = next(pid for kind, pid in wins if kind == "start")
    assert runs == [(1, "running", f"pid-{starter}")]
    assert attempts == (1, "running")
