"""8 processes submitting 500 jobs each into one database: no lock errors, no lost or
duplicated rows."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from gridwait.clock import SystemClock
from gridwait.spec import JobSpec, resolve
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job

PROCESSES = 8
JOBS_EACH = 500


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
            add_job(session, resolve(spec, now, Path(dataset).parent), "builtin:minilm", 1, now)
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
