"""The worker process's logic in-process: it takes only a claimed run, samples energy
with a heartbeat, and records what happened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridwait.app.deps import Deps
from gridwait.app.runs import LocalReporter
from gridwait.clock import ManualClock, SystemClock
from gridwait.config import Settings
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, get_job, transition
from gridwait.store.models import Run
from gridwait.store.runs import claim, samples_of
from gridwait.workers.meters import FakeMeter, RunMeter
from gridwait.workers.runner import EXIT, run_worker
from tests.conftest import T0
from tests.workers.conftest import DEMO


def planned_job(store: Store, model: Path, **extra: object) -> int:
    spec = JobSpec.model_validate(
        {
            "name": "t",
            "model": str(model),
            "deadline": "4h",
            "batch_size": 16,
            "max_length": 32,
            "dataset": {"path": str(DEMO), "limit": 64},
            **extra,
        }
    )
    now = T0
    with store.write() as session:
        job = add_job(session, resolve(spec, now, DEMO.parent), 1, now)
        job.planned_start = now
        transition(session, job, JobState.PLANNED, now, "test")
    assert job.id is not None
    return job.id


def test_claim_is_atomic_and_needs_the_same_plan(tmp_path: Path, tiny_model: Path) -> None:
    store = Store(tmp_path / "c.db", ManualClock(T0))
    job_id = planned_job(store, tiny_model)
    lease = timedelta(minutes=1)
    with store.write() as session:
        assert (
            claim(session, job_id, T0 + timedelta(minutes=5), T0, lease, "", None) is None
        )  # re-planned since
    with store.write() as session:
        run = claim(session, job_id, T0, T0, lease, "", None)
    with store.write() as session:
        again = claim(session, job_id, T0, T0, lease, "", None)
    assert run is not None and run.state == "claimed" and again is None
    with store.read() as session:
        assert (
            get_job(session, job_id).state == "running" and get_job(session, job_id).attempts == 1
        )


@pytest.mark.slow
def test_worker_runs_measures_and_reports(tmp_path: Path, tiny_model: Path) -> None:
    settings = Settings(db=tmp_path / "w.db", energy={"sample_seconds": 0.2, "pue": 1.25})
    clock = SystemClock()
    store = Store(settings.db, clock)
    job_id = planned_job(store, tiny_model)
    with store.write() as session:
        run = claim(session, job_id, T0, clock.now(), timedelta(minutes=1), "", None)
    assert run is not None and run.id is not None
    meter = RunMeter(clock, None, FakeMeter(20.0, clock), FakeMeter(1.0, clock))
    reporter = LocalReporter(Deps(settings, clock), run.id)
    assert run_worker(reporter, clock, meter) == EXIT["succeeded"]
    assert run_worker(reporter, clock, meter) == EXIT["not-ours"]  # it runs once only
    with store.read() as session:
        row = session.get(Run, run.id)
        samples = samples_of(session, run.id)
    assert row is not None and row.state == "succeeded" and row.exit_code == 0
    assert (
        row.steps == row.total_steps == 4
        and row.tokens_padded
        and row.tokens_padded >= (row.tokens_real or 0)
    )
    assert row.energy_cpu_j and row.energy_cpu_j > 0 and row.cpu_method == "estimated"
    assert row.gpu_method is None and row.energy_gpu_j is None  # a CPU job measures no GPU
    assert row.energy_facility_j == pytest.approx(row.energy_it_j * 1.25)
    assert row.duration_s and row.duration_s > 0 and row.flops and row.flops > 0
    assert row.hardware and row.hardware.startswith("cpu:") and row.precision == "fp32"
    assert len(samples) >= 3 and [s.cpu_j for s in samples] == sorted(s.cpu_j or 0 for s in samples)
    assert row.heartbeat_at is not None and row.lease_expires_at is not None
    assert (tmp_path / "runs" / f"job-{job_id}" / "model" / "config.json").exists()
