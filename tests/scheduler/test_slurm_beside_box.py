"""A local box beside a real Slurm cluster (the session's `slurm_conf` daemons), each a
launch target in its own zone: a job planned on the cluster is booked in Slurm at its
planned start and its run carries the cluster's target and zone; one the full cluster
cannot take goes to the box and waits for a start timer, never for sbatch; a job
re-planned from the cluster onto the box loses its Slurm booking.

No job runs: every planned start is hours away, so Slurm only holds them pending.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.grid.base import IntensityProvider
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.service import Service
from gridwait.states import JobState, RunState
from gridwait.store.models import Job
from gridwait.workers.launchers.factory import make_launcher
from gridwait.workers.launchers.local import LocalLauncher
from gridwait.workers.launchers.slurm import SlurmLauncher
from tests.scheduler.test_slurm_service import (
    Front,
    H,
    _first_hour,
    _state,
    serve_api,
    until_teardown,
    wait,
)

pytestmark = pytest.mark.slow


class TwoZones(IntensityProvider):
    """Hourly intensities from the hour before now, per zone: `levels[zone]` everywhere
    except the `clean` hours of zone B, at 100 g/kWh. A test changes them to publish a
    new forecast."""

    name = "two-zones"
    signal = "average"

    def __init__(self) -> None:
        self.levels = {"A": 300.0, "B": 400.0}
        self.clean = {3}

    def _series(self, zone: str, kind: str) -> IntensitySeries:
        first = _first_hour()
        values = np.full(80, self.levels[zone])
        if zone == "B":
            values[sorted(self.clean)] = 100.0
        return IntensitySeries(zone, self.name, "average", kind, first, H, values, issued_at=first)  # type: ignore[arg-type]

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, "forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, "actual")


@pytest.fixture
def front(
    env: Path, tmp_path: Path, slurm_conf: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Front]:
    # one CPU slot per target: the test jobs are CPU-only (the test partition has no GPUs)
    config = tmp_path / "gridwait.toml"
    config.write_text(
        f"""launcher = "local"
[grid]
zone = "A"
[scheduler]
gpus = 0
cpu_slots = 1
step_minutes = 1
min_segment_minutes = 0
resume_overhead_minutes = 0
lease_seconds = 120
[slurm]
conf = "{slurm_conf}"
python = "{sys.executable}"
partition = "debug"
[slurm.partitions.debug]
gpus = 0
time_limit_minutes = 10
[[targets]]
name = "box"
zone = "A"
kind = "local"
gpus = 1
[[targets]]
name = "cluster"
zone = "B"
kind = "slurm"
gpus = 1
"""
    )
    settings, deps, server = serve_api(monkeypatch)
    provider = TwoZones()
    launcher = make_launcher(settings)
    assert isinstance(launcher, LocalLauncher)
    zones = {"A": provider, "B": provider}
    service = Service(settings, deps.clock, deps.store(), provider, launcher, zones=zones)
    cluster = service.launchers["cluster"]
    assert isinstance(cluster, SlurmLauncher) and service.launchers["box"] is launcher
    world = Front(settings, deps, service, provider, cluster.cli)  # type: ignore[arg-type]
    yield from until_teardown(world, server)


def test_the_cleaner_cluster_gets_a_booking_and_the_box_a_start_timer(front: Front) -> None:
    jobs = [front.submit(name, "builtin:minilm") for name in ("a", "b")]
    with front.deps.store().write() as session:  # an hour each: one fills the clean hour
        for job_id in jobs:
            job = session.get(Job, job_id)
            assert job is not None
            job.est_seconds, job.est_energy_j = 3600.0, 3.6e6
            session.add(job)
    earlier = {j.job_id for j in front.slurm.jobs()}  # the session's other tests' jobs
    front.service.replan()

    planned = {job_id: front.job(job_id) for job_id in jobs}
    [on_cluster] = [j for j in jobs if planned[j].plan_target == "cluster"]
    [on_box] = [j for j in jobs if planned[j].plan_target == "box"]
    clean = _first_hour() + 3 * H
    job = planned[on_cluster]
    assert job.state == JobState.PLANNED and job.plan_zone == "B"
    assert job.planned_start is not None and clean <= job.planned_start < clean + H
    (run,) = front.runs(on_cluster)
    assert run.state == RunState.CLAIMED and (run.target, run.zone) == ("cluster", "B")
    queued = front.slurm_job(run)
    assert queued.state == "PENDING" and queued.name == f"gridwait-{on_cluster}"
    assert queued.begin is not None
    assert abs(queued.begin - job.planned_start) <= timedelta(seconds=1)
    booked = run.handle
    assert booked is not None

    # the full cluster's other job: the box, dirtier than the clean hour but cleaner
    # than the cluster's other hours, now; a start timer holds it, Slurm never sees it
    job = planned[on_box]
    assert job.state == JobState.PLANNED and job.plan_zone == "A"
    assert front.runs(on_box) == []
    assert f"start-{on_box}" in front.service.timer.names()
    assert f"start-{on_cluster}" not in front.service.timer.names()
    submitted = [j.job_id for j in front.slurm.jobs() if j.job_id not in earlier]
    assert submitted == [int(booked)]  # one sbatch: the cluster's job

    # a new forecast: zone A is cleanest at once, so both jobs go to the box one after
    # the other; the cluster's booking is withdrawn, not left to run the job twice
    front.provider.levels["A"] = 50.0  # type: ignore[attr-defined]
    front.service.replan()
    moved = front.job(on_cluster)
    assert moved.state == JobState.PLANNED and moved.plan_target == "box"
    (run,) = front.runs(on_cluster)
    assert run.state == RunState.LOST and run.handle == booked
    gone = wait("the withdrawal to reach Slurm", lambda: _state(front, booked) == "CANCELLED")
    assert gone
    assert {f"start-{on_box}", f"start-{on_cluster}"} <= front.service.timer.names()
    assert [j.job_id for j in front.slurm.jobs() if j.job_id not in earlier] == [int(booked)]
