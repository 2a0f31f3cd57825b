"""Several launch targets in several zones: the stored plan says where and why, a
dispatch runs the job on its target's launcher, and the run is accounted on the
intensity of the zone where it really ran."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from sqlmodel import select

from gridwait.app.actor import host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import show
from gridwait.clock import ManualClock
from gridwait.config import Settings
from gridwait.errors import ConfigError, LaunchError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.factory import zone_providers
from gridwait.grid.profile import ProfileProvider
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.accounting import account, settle
from gridwait.scheduler.queue_plan import plan_queue
from gridwait.scheduler.service import Service
from gridwait.scheduler.targets import target_launchers
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState, RunState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, events, get_job
from gridwait.store.models import EnergySample, Run
from gridwait.store.runs import book
from gridwait.workers.launchers.base import LaunchState, Status
from gridwait.workers.launchers.slurm import SlurmLauncher
from tests.conftest import T0
from tests.scheduler.standins import StandIn

H = timedelta(hours=1)
TWO = [
    {"name": "box", "zone": "DE", "gpus": 1},
    {"name": "cluster", "zone": "FR", "gpus": 1, "kind": "local"},
]


class Zoned(IntensityProvider):
    """A flat intensity per zone: 400 g/kWh in DIRTY, 100 in CLEAN, 250 in OLD."""

    name = "zoned"
    signal = "average"
    LEVEL: ClassVar[dict[str, float]] = {"DIRTY": 400.0, "CLEAN": 100.0, "OLD": 250.0}

    def _series(self, zone: str, kind: str) -> IntensitySeries:
        values = np.full(96, self.LEVEL[zone])
        return IntensitySeries(zone, self.name, "average", kind, T0, H, values, issued_at=T0)  # type: ignore[arg-type]

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, "forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, "actual")


def settings(tmp_path: Path, targets: list[dict[str, Any]], **grid: Any) -> Settings:
    return Settings(
        db=tmp_path / "lab.db",
        grid={"provider": "profile", "zone": "DE", **grid},
        scheduler={"gpus": 1},
        targets=targets,
    )


def add(store: Store, dataset: Path, gpus: int = 1, **fields: Any) -> int:
    spec = JobSpec.model_validate(
        {
            "name": "a",
            "model": "builtin:minilm",
            "deadline": "20h",
            "gpus": gpus,
            "dataset": {"path": str(dataset)},
        }
    )
    with store.write() as session:
        job = add_job(session, resolve(spec, T0, dataset.parent), 1, T0)
        job.est_seconds, job.est_energy_j = 2 * 3600.0, 2 * 3.6e6  # 1 kW for 2 h
        for key, value in fields.items():
            setattr(job, key, value)
        session.add(job)
    return job.id or 0


def test_the_stored_plan_names_the_cleaner_zone_and_the_event_says_why(
    tmp_path: Path, dataset: Path
) -> None:
    lab = settings(tmp_path, TWO)
    clock = ManualClock(T0)
    store = Store(lab.db, clock)
    job_id = add(store, dataset)
    report = plan_queue(store, lab, clock, ProfileProvider(), apply=True)
    [p] = report.placements
    assert (p.target, p.zone) == ("cluster", "FR")
    with store.read() as session:
        job = get_job(session, job_id)
        history = list(events(session, job_id))
    assert (job.plan_target, job.plan_zone) == ("cluster", "FR")
    assert job.plan_where is not None and job.plan_where.startswith("box (DE) ")
    assert "g vs cluster (FR) " in job.plan_where and "saves" in job.plan_where
    assert history[-1].to_state == JobState.PLANNED
    assert "on cluster (FR)" in (history[-1].reason or "")
    assert job.plan_where in (history[-1].reason or "")
    shown = show(Deps(lab, clock), host_admin(), job_id).plan
    assert shown is not None and (shown.target, shown.zone, shown.where) == (
        "cluster",
        "FR",
        job.plan_where,
    )


def test_a_suspended_job_resumes_on_the_target_that_holds_its_checkpoint(
    tmp_path: Path, dataset: Path
) -> None:
    lab = settings(tmp_path, TWO)
    clock = ManualClock(T0)
    store = Store(lab.db, clock)
    add(store, dataset, state=JobState.SUSPENDED, plan_target="box", plan_zone="DE")
    [p] = plan_queue(store, lab, clock, ProfileProvider()).placements
    assert (p.target, p.zone, p.where) == ("box", "DE", None)


def test_a_dispatch_runs_on_the_targets_gpus_and_stores_where_it_ran(
    tmp_path: Path, dataset: Path
) -> None:
    lab = settings(tmp_path, TWO)
    clock = ManualClock(T0)
    store = Store(lab.db, clock)
    job_id = add(store, dataset)
    recorder = StandIn()
    service = Service(lab, clock, store, ProfileProvider(), recorder)
    service.replan()
    with store.read() as session:
        start = get_job(session, job_id).planned_start
    assert start is not None
    clock.set(start)
    service.dispatch(job_id, start)
    [request] = recorder.started
    assert request.gpu_ids == ["0"]  # the cluster's first GPU: the box's are its own
    with store.read() as session:
        run = session.get(Run, 1)
    assert run is not None and (run.target, run.zone, run.handle) == ("cluster", "FR", "fake-1")
    [shown] = show(Deps(lab, clock), host_admin(), job_id).runs
    assert (shown.target, shown.zone) == ("cluster", "FR")


def test_a_job_booked_on_the_cluster_is_never_started_by_a_box_timer(
    tmp_path: Path, dataset: Path
) -> None:
    lab = settings(tmp_path, [TWO[0], {**TWO[1], "kind": "slurm"}])
    clock = ManualClock(T0)
    store = Store(lab.db, clock)
    on_box, on_cluster = add(store, dataset), add(store, dataset)
    with store.write() as session:
        for job_id, target in ((on_box, "box"), (on_cluster, "cluster")):
            job = get_job(session, job_id)
            job.state, job.planned_start, job.plan_target = JobState.PLANNED, T0, target
            session.add(job)
        # re-planned onto the box while its Slurm booking is still there (not withdrawn)
        run = book(session, on_box, T0, T0 + H, None)
        assert run is not None
        run.target, run.handle = "cluster", "4242"
        session.add(run)
    recorder = StandIn()
    service = Service(lab, clock, store, ProfileProvider(), recorder)
    assert service.ahead == {"cluster"}
    service.dispatch(on_box, T0)
    service.dispatch(on_cluster, T0)  # a stale timer: the cluster books it, never dispatch
    assert recorder.started == []
    with store.read() as session:
        assert get_job(session, on_box).state == get_job(session, on_cluster).state
        assert get_job(session, on_box).state == JobState.PLANNED
        assert [r.job_id for r in session.exec(select(Run))] == [on_box]


def with_samples(store: Store, run_id: int, zone: str | None) -> None:
    with store.write() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.zone, run.state, run.pue, run.started_at = zone, "succeeded", 1.0, T0 + H
        session.add(run)
        for h in range(3):  # 1 kWh an hour for 2 hours
            session.add(
                EnergySample(run_id=run_id, at=T0 + (1 + h) * H, elapsed_s=h * 3600.0,
                             cpu_j=3.6e6 * h, cpu_method="estimated")
            )  # fmt: skip


def test_a_run_is_accounted_and_settled_on_the_zone_where_it_ran(
    tmp_path: Path, dataset: Path
) -> None:
    clock = ManualClock(T0 + 10 * H)
    store = Store(tmp_path / "a.db", clock)
    job_id = add(store, dataset)
    with store.write() as session:
        for _ in range(2):
            session.add(Run(job_id=job_id, attempt=1, state="claimed", claimed_at=T0))
    with_samples(store, 1, "CLEAN")
    with_samples(store, 2, None)  # from before targets: the caller's zone
    clean = account(store, Zoned(), "DIRTY", clock, 1)
    assert clean.emissions_g == pytest.approx(2 * 100)
    assert clean.counterfactual_g == pytest.approx(2 * 100)  # run-now in the same zone
    assert account(store, Zoned(), "DIRTY", clock, 2).emissions_g == pytest.approx(2 * 400)
    with store.write() as session:  # provisional again: settle only the clean zone's
        for run_id in (1, 2):
            row = session.get(Run, run_id)
            assert row is not None
            row.emissions_provisional = True
            session.add(row)
    settled, pending = settle(
        store, Zoned(), "CLEAN", clock, only=lambda r: (r.zone or "DIRTY") == "CLEAN"
    )
    assert (settled, pending) == (1, 0)


def test_bad_zones_are_one_clear_line_and_a_slurm_target_gets_the_slurm_launcher(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    unknown = settings(tmp_path, [*TWO[:1], {"name": "far", "zone": "XX-NOWHERE", "gpus": 2}])
    with pytest.raises(
        ConfigError, match=r"^targets\.far\.zone: the profile provider has no zone 'XX-NOWHERE'"
    ):
        zone_providers(unknown, clock, None, ProfileProvider())
    trace = settings(tmp_path, TWO, provider="trace", trace=tmp_path / "de.csv")
    with pytest.raises(
        ConfigError,
        match=r"targets\.cluster\.zone: the trace provider's \[grid\] trace is zone 'DE'",
    ):
        zone_providers(trace, clock, None, ProfileProvider())
    slurm = settings(
        tmp_path, [*TWO[:1], {"name": "hpc", "zone": "FR", "gpus": 8, "kind": "slurm"}]
    )
    main = StandIn()
    launchers = target_launchers(slurm, main)  # a local box beside a Slurm cluster
    assert launchers[TWO[0]["name"]] is main
    assert isinstance(launchers["hpc"], SlurmLauncher) and launchers["hpc"].submits_ahead


def test_a_target_with_its_own_trace_gets_its_own_provider(tmp_path: Path) -> None:
    rows = "\n".join(f"{(T0 + h * H).isoformat()},{100 + h}" for h in range(72))
    (tmp_path / "fr.csv").write_text("datetime,carbon_intensity\n" + rows + "\n")
    lab = settings(tmp_path, [TWO[0], {**TWO[1], "trace": str(tmp_path / "fr.csv")}])
    shared = ProfileProvider()
    zones = zone_providers(lab, ManualClock(T0), None, shared)
    assert zones["DE"] is shared and zones["FR"] is not shared
    assert zones["FR"].forecast("FR", T0, T0 + 2 * H).values[0] == pytest.approx(100)


def test_the_service_settles_each_run_on_its_own_zone(tmp_path: Path, dataset: Path) -> None:
    """Including a run in a zone no target has any more (the settings changed)."""
    lab = Settings(
        db=tmp_path / "lab.db",
        grid={"provider": "profile", "zone": "DIRTY"},
        targets=[
            {"name": "a", "zone": "DIRTY", "gpus": 1},
            {"name": "b", "zone": "CLEAN", "gpus": 1},
        ],
    )
    clock = ManualClock(T0 + 10 * H)
    store = Store(lab.db, clock)
    job_id = add(store, dataset)
    with store.write() as session:
        for _ in range(2):
            session.add(Run(job_id=job_id, attempt=1, state="claimed", claimed_at=T0))
    with_samples(store, 1, "CLEAN")
    with_samples(store, 2, "OLD")
    with store.write() as session:
        for run_id in (1, 2):
            row = session.get(Run, run_id)
            assert row is not None
            row.emissions_provisional = True
            session.add(row)
    zones = {"DIRTY": Zoned(), "CLEAN": Zoned()}
    Service(lab, clock, store, Zoned(), StandIn(), zones=zones).poll()
    with store.read() as session:
        runs = [session.get(Run, i) for i in (1, 2)]
    assert [(r.emissions_g, r.emissions_provisional) for r in runs if r is not None] == [
        (pytest.approx(2 * 100), False),
        (pytest.approx(2 * 250), False),
    ]


class Counting(StandIn):
    """Answers for all its runs at once, and remembers each time it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[list[str]] = []

    def poll(self, handle: str) -> Status:
        raise AssertionError("polled one run at a time")

    def poll_all(self, handles: Sequence[str]) -> dict[str, Status]:
        self.asked.append(sorted(handles))
        return {handle: Status(LaunchState.RUNNING) for handle in handles}


def running(
    tmp_path: Path,
    dataset: Path,
    where: list[tuple[str, str | None]],
    lease: datetime | None = None,
) -> tuple[Settings, ManualClock, Store]:
    """A lab with the TWO targets and one running job per (target, handle) of `where`."""
    lab = settings(tmp_path, TWO)  # both targets local: one launcher behind both
    clock = ManualClock(T0)
    store = Store(lab.db, clock)
    jobs = [add(store, dataset) for _ in where]
    with store.write() as session:
        for job_id, (target, handle) in zip(jobs, where, strict=True):
            job = get_job(session, job_id)
            job.state = JobState.RUNNING
            session.add(job)
            session.add(
                Run(job_id=job_id, attempt=1, state="running", claimed_at=T0, target=target,
                    handle=handle, lease_expires_at=lease)
            )  # fmt: skip
    return lab, clock, store


def test_a_tick_asks_each_launcher_once_for_all_its_runs(tmp_path: Path, dataset: Path) -> None:
    where = [("box", "11"), ("cluster", "12"), ("box", "13"), ("box", None)]
    lab, clock, store = running(tmp_path, dataset, where)
    launcher = Counting()
    Service(lab, clock, store, ProfileProvider(), launcher).tick()
    assert launcher.asked == [["11", "12", "13"]]  # once; the run without a handle is not asked


class Unreachable(Counting):
    def poll_all(self, handles: Sequence[str]) -> dict[str, Status]:
        raise LaunchError("squeue --json: Unable to contact slurm controller")


def test_a_launcher_that_does_not_answer_leaves_its_runs_for_the_next_tick(
    tmp_path: Path, dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    where: list[tuple[str, str | None]] = [("box", "11"), ("cluster", "12")]
    lab, clock, store = running(tmp_path, dataset, where, lease=T0 - H)
    box, cluster = Counting(), Unreachable()
    service = Service(lab, clock, store, ProfileProvider(), box)
    service.launchers = {"box": box, "cluster": cluster}
    service.tick()
    assert box.asked == [["11"]]
    assert "could not follow 1 run(s) this tick: squeue --json: Unable" in caplog.text
    with store.read() as session:
        states = {r.handle: r.state for r in session.exec(select(Run))}
    # the box's run is judged (its lease lapsed: lost); the cluster's waits for an answer
    assert states == {"11": RunState.LOST, "12": RunState.RUNNING}
