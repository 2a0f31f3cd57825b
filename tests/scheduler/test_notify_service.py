"""The service tells people what their jobs did: a job goes through the real service
(planner, claim, a stand-in launcher for the GPU, the worker's reports through the use
cases, accounting) and a real local json:// target receives apprise's messages with the
job's numbers. A target that is down is logged and the job still finishes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.app.actor import Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.runs import finish_run, heartbeat, start_run
from gridwait.app.users import add_user, set_notify_url
from gridwait.clock import ManualClock, SimulatedClock
from gridwait.config import Settings
from gridwait.grid.base import IntensityProvider
from gridwait.grid.series import IntensitySeries
from gridwait.notify.apprise_notifier import AppriseNotifier
from gridwait.scheduler.service import Service
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.budgets import set_budget
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, get_job
from gridwait.store.runs import runs_of
from gridwait.workers.launchers.base import RunRequest
from gridwait.workers.reporter import Outcome, Sample
from tests.conftest import T0
from tests.notify.json_target import JsonTarget, closed_port, target
from tests.scheduler.standins import StandIn

__all__ = ["closed_port", "target"]  # the fixtures

H = timedelta(hours=1)
KWH = 3.6e6


class Valley(IntensityProvider):
    """400 g/kWh for three hours from T0, then 100: a job submitted at T0 waits."""

    name = "valley"
    signal = "average"

    def _series(self, kind: str) -> IntensitySeries:
        values = np.array([400.0] * 3 + [100.0] * 45)
        return IntensitySeries("Z", self.name, "average", kind, T0, H, values, issued_at=T0)  # type: ignore[arg-type]

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("actual")


def _sample(at: datetime, elapsed_s: float, joules: float) -> Sample:
    return Sample(
        at=at,
        elapsed_s=elapsed_s,
        gpu_j=joules,
        cpu_j=0.0,
        ram_j=0.0,
        gpu_method="nvml_counter",
        cpu_method="estimated",
        ram_method="estimated",
    )


class Lab:
    def __init__(self, tmp_path: Path, dataset: Path, lab_urls: list[str]) -> None:
        self.settings = Settings(
            db=tmp_path / "lab.db",
            scheduler={"gpus": 1},
            notify={"urls": lab_urls, "timeout_s": 2},
        )
        self.clock = ManualClock(T0)
        self.store = Store(self.settings.db, self.clock)
        self.deps = Deps(self.settings, self.clock)
        self.dataset = dataset
        self.service = Service(
            self.settings,
            self.clock,
            self.store,
            Valley(),
            StandIn(),
            notifier=AppriseNotifier(self.settings.notify.timeout_s),
        )

    def submit(
        self, name: str, deadline: str = "20h", owner: str = "ada", seconds: float = 3600.0
    ) -> int:
        """A job of an hour and one kWh (`seconds`: its real run time, stretched by a
        simulated clock's factor)."""
        spec = JobSpec.model_validate(
            {
                "name": name,
                "owner": owner,
                "project": "nlp",
                "model": "builtin:minilm",
                "deadline": deadline,
                "dataset": {"path": str(self.dataset)},
                "gpus": 1,
            }
        )
        with self.store.write() as session:
            job = add_job(session, resolve(spec, self.clock.now(), self.dataset.parent), 1, T0)
            job.est_seconds, job.est_energy_j = seconds, 1.0 * KWH
            session.add(job)
        return job.id or 0

    def run_to_the_end(self, job_id: int, kwh: float) -> None:
        """Dispatch at the planned start, report an hour of work, conclude."""
        with self.store.read() as session:
            job = get_job(session, job_id)
        assert job.state == JobState.PLANNED and job.planned_start is not None
        self.clock._now = job.planned_start
        self.service.dispatch(job_id, job.planned_start)
        with self.store.read() as session:
            run_id = runs_of(session, job_id)[-1].id or 0
        start_run(self.deps, run_id, f"fake-{run_id}", "box")
        first = _sample(job.planned_start, 0.0, 0.0)
        self.clock._now = job.planned_start + H
        final = _sample(self.clock.now(), 3600.0, kwh * KWH)
        heartbeat(self.deps, run_id, [first, final])
        finish_run(self.deps, run_id, Outcome(state="succeeded", duration_s=3600, final=final))
        self.clock._now += timedelta(minutes=5)
        self.service._conclude(run_id)


@pytest.fixture
def lab_and_targets(tmp_path: Path, dataset: Path, target: JsonTarget) -> tuple[Lab, JsonTarget]:
    lab = Lab(tmp_path, dataset, [target.url("/lab")])
    add_user(lab.deps, host_admin(), "ada", Role.MEMBER)
    set_notify_url(lab.deps, host_admin(), "ada", target.url("/ada"))
    return lab, target


def test_an_owner_and_the_lab_hear_of_the_start_and_the_finish_with_its_numbers(
    lab_and_targets: tuple[Lab, JsonTarget],
) -> None:
    lab, target = lab_and_targets
    job_id = lab.submit("bert-sst2")
    lab.service.replan()  # into the valley: 03:00 to 04:00 after T0
    lab.run_to_the_end(job_id, kwh=1.5)
    lab.service.notify()
    assert target.paths == ["/ada", "/lab", "/ada", "/lab"]
    started, finished = target.received[0], target.received[2]
    assert started["title"] == f"gridwait: job {job_id} 'bert-sst2' started"
    assert (
        f"job {job_id} 'bert-sst2' (ada, project nlp) started at 2026-03-02 12:00 UTC"
        in (started["message"])
    )
    assert "Forecast 100.0 gCO2e in this window against 400.0 gCO2e" in started["message"]
    assert finished["title"] == f"gridwait: job {job_id} 'bert-sst2' finished"
    body = finished["message"]
    # 1.5 kWh at the actual 100 g/kWh; had it started at submission, 1.5 kWh at 400 g/kWh
    assert "Energy: 1.500 kWh (facility)." in body
    assert "Emissions: 150.0 gCO2e (on the grid's actual intensity)." in body
    assert "Saving: 450.0 gCO2e (75.0 %) against starting at submission." in body
    with lab.store.read() as session:
        run = runs_of(session, job_id)[-1]
    assert run.emissions_g == pytest.approx(150.0) and run.saving_g == pytest.approx(450.0)

    lab.service.notify()  # nothing new: nothing sent twice
    assert len(target.received) == 4


def test_a_target_that_is_down_is_logged_and_the_job_still_finishes(
    tmp_path: Path,
    dataset: Path,
    target: JsonTarget,
    closed_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = f"json://lab:hunter2@127.0.0.1:{closed_port}/hook"
    lab = Lab(tmp_path, dataset, [down, target.url("/lab")])
    job_id = lab.submit("bert")
    lab.service.replan()
    caplog.set_level(logging.INFO, logger="gridwait")
    lab.run_to_the_end(job_id, kwh=1.0)
    lab.service.notify()
    with lab.store.read() as session:
        assert get_job(session, job_id).state == JobState.SUCCEEDED
    assert target.titles() == [
        f"gridwait: job {job_id} 'bert' started",
        f"gridwait: job {job_id} 'bert' finished",
    ]
    # (pytest also hands it apprise's own lines, which gridwait keeps from its log)
    failures = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "gridwait.notify"
    ]
    assert len(failures) == 2
    assert failures[0].startswith(
        f"job {job_id}: could not tell json://lab:****@127.0.0.1:{closed_port}/hook (started):"
    )
    assert "connection error" in failures[0].lower()
    assert "hunter2" not in caplog.text


def test_held_and_late_are_told_once_however_often_the_queue_is_replanned(
    lab_and_targets: tuple[Lab, JsonTarget],
) -> None:
    lab, target = lab_and_targets
    with lab.store.write() as session:
        set_budget(session, "user", "ada", 10.0, T0)  # a 1 kWh job needs 100 g at best
    held = lab.submit("big")
    late = lab.submit("rushed", deadline="30m", owner="bo")  # an hour's work, 30 min left
    for _ in range(3):
        lab.service.replan()
        lab.service.notify()
    with lab.store.read() as session:
        assert get_job(session, held).state == JobState.HELD
        assert get_job(session, late).plan_late
    assert target.titles() == [
        f"gridwait: job {held} 'big' held by a budget",
        f"gridwait: job {held} 'big' held by a budget",
        f"gridwait: job {late} 'rushed' will be late",
    ]
    assert target.paths == ["/ada", "/lab", "/lab"]  # bo has no URL of their own
    assert "budget" in target.received[0]["message"]
    assert (
        "will miss its deadline 2026-03-02 09:30 UTC: needs 1.0 h but only 0.5 h remain"
        in (target.received[2]["message"])
    )


def test_a_restarted_service_does_not_repeat_what_was_told(
    lab_and_targets: tuple[Lab, JsonTarget], tmp_path: Path, dataset: Path
) -> None:
    lab, target = lab_and_targets
    job_id = lab.submit("once")
    lab.service.replan()
    lab.run_to_the_end(job_id, kwh=1.0)
    lab.service.notify()
    told = len(target.received)
    again = Service(lab.settings, lab.clock, lab.store, Valley(), StandIn())
    again.notify()
    assert len(target.received) == told == 4


class Announcing(StandIn):
    """Records the runs the service starts, for the test to report on as their worker."""

    def __init__(self) -> None:
        self.runs: list[int] = []

    def start(self, request: RunRequest) -> str:
        self.runs.append(request.run_id)
        return f"fake-{request.run_id}"


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_running_service_sends_on_its_own_lane_and_before_it_stops(
    tmp_path: Path, dataset: Path, target: JsonTarget
) -> None:
    """The timer fires the start three real seconds in (a domain hour each), the tick
    concludes the reported run, and the notices go out without anyone calling notify."""
    lab = Lab(tmp_path, dataset, [target.url("/lab")])
    lab.settings.scheduler.tick_seconds = 0.1
    clock = SimulatedClock(T0, 3600.0)
    launcher = Announcing()
    lab.deps = Deps(lab.settings, clock)
    lab.clock = clock  # type: ignore[assignment]
    job_id = lab.submit("live", seconds=1.0)  # a domain hour on this clock
    service = Service(lab.settings, clock, lab.store, Valley(), launcher)
    service.start()
    try:
        assert _until(lambda: bool(launcher.runs), 10), "the job was never started"
        run_id = launcher.runs[0]
        ticket = start_run(lab.deps, run_id, f"fake-{run_id}", "box")
        assert ticket.job_id == job_id
        assert _until(lambda: target.titles()[:1] == [f"gridwait: job {job_id} 'live' started"], 5)
        now = clock.now()
        samples = [_sample(now - H, 0.0, 0.0), _sample(now, 3600.0, 2 * KWH)]
        heartbeat(lab.deps, run_id, samples)
        finish_run(lab.deps, run_id, Outcome(state="succeeded", duration_s=1, final=samples[1]))

        def succeeded() -> bool:
            with lab.store.read() as session:
                return bool(get_job(session, job_id).state == JobState.SUCCEEDED)

        assert _until(succeeded, 10), "the reported run was never concluded"
    finally:
        service.stop()  # sends what the last tick concluded, if the lane has not yet
    assert target.titles() == [
        f"gridwait: job {job_id} 'live' started",
        f"gridwait: job {job_id} 'live' finished",
    ]
    assert "Energy: 2.000 kWh (facility)." in target.received[1]["message"]
