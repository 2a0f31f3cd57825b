"""The service re-plans on each poll with the corrected forecast, its events say so, and a
re-plan commits no start before it is due."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from gridwait.clock import ManualClock
from gridwait.config import Settings
from gridwait.scheduler.service import Service
from gridwait.spec import resolve
from gridwait.states import LIVE_RUNS, JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, events, get_job
from gridwait.store.runs import runs_in
from gridwait.workers.launchers.local import LocalLauncher
from tests.conftest import minilm_spec
from tests.grid.history import START, H, error_trace, provider, record_forecasts

NOW = START + timedelta(days=31, hours=10, minutes=30)


def service_with_job(tmp_path: Path, dataset: Path, history_from: timedelta) -> tuple[Service, int]:
    """A service on the synthetic trace, its store holding the forecasts polled since
    `history_from` before now, and one queued 1 h job due within 20 h."""
    settings = Settings(
        db=tmp_path / "lab.db",
        grid={"zone": "Z", "forecast_correction": "persistence", "horizon_hours": 48},
        scheduler={"gpus": 1, "step_minutes": 15},
    )
    clock = ManualClock(NOW)
    store = Store(settings.db, clock)
    source = provider(error_trace())
    record_forecasts(store, source, NOW - history_from, NOW)
    spec = minilm_spec("a", "20h", dataset)
    with store.write() as session:
        job = add_job(session, resolve(spec, NOW, dataset.parent), 1, NOW)
        job.est_seconds, job.est_energy_j = 3600.0, 3.6e6
        session.add(job)
        job_id = job.id or 0
    # the launcher is never reached: no start falls due while the test runs
    return Service(settings, clock, store, source, LocalLauncher()), job_id


def test_each_poll_replans_on_the_corrected_forecast_and_starts_nothing_early(
    tmp_path: Path, dataset: Path
) -> None:
    service, job_id = service_with_job(tmp_path, dataset, timedelta(days=30))
    clock = cast(ManualClock, service.clock)
    starts = []
    for _ in range(3):
        service.poll()
        with service.store.read() as session:
            job = get_job(session, job_id)
            live = runs_in(session, LIVE_RUNS)
        assert job.state == JobState.PLANNED and not live  # planned, not started
        assert job.planned_start is not None and job.planned_start > clock.now()
        assert "corrected forecast (error persistence, 28 d" in (job.plan_source or "")
        assert "band ±" in (job.state_reason or "")
        assert {n for n in service.timer.names() if n.startswith("start-")} == {f"start-{job_id}"}
        starts.append(job.planned_start)
        clock.advance(3600)
    with service.store.read() as session:
        planned = [e for e in events(session, job_id) if e.to_state == JobState.PLANNED]
    assert planned and planned[0].reason is not None
    assert "corrected forecast (error persistence, 28 d of stored history" in planned[0].reason
    assert "10%-90% band ±" in planned[0].reason and "at the window" in planned[0].reason
    assert starts[0] - NOW > 3 * H  # the cycle's trough is hours away: it waits for it


def test_with_too_little_history_it_plans_on_the_raw_forecast_and_says_so(
    tmp_path: Path, dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service, job_id = service_with_job(tmp_path, dataset, timedelta(hours=12))
    with caplog.at_level(logging.WARNING, logger="gridwait.service"):
        service.poll()
    assert "raw forecast: too little stored history to correct it" in caplog.text
    with service.store.read() as session:
        job = get_job(session, job_id)
    assert job.state == JobState.PLANNED
    assert "raw forecast: too little stored history" in (job.state_reason or "")
    assert "band" not in (job.plan_source or "")
