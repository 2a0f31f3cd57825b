"""The service in front of a real Slurm cluster (the session's `slurm_conf` daemons):
runs booked ahead with `--begin` at their planned start, moved by a new forecast,
cancelled into Slurm, and a real worker in a Slurm job reporting over a real API server.

The daemons schedule every 5 s, so every wait is a bounded poll. Few, combined test
functions: each costs real Slurm time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from sqlmodel import select

from gridwait.api.server import ApiServer
from gridwait.app.actor import Actor, Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import cancel, submit_remote
from gridwait.app.planning import plan
from gridwait.app.users import add_user
from gridwait.clock import SystemClock
from gridwait.config import Settings, load_settings
from gridwait.errors import LaunchError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.service import Service
from gridwait.spec import JobSpec
from gridwait.states import JobState, RunState
from gridwait.store.models import EnergySample, Job, Run
from gridwait.store.runs import runs_of
from gridwait.workers.launchers.factory import make_launcher
from gridwait.workers.launchers.slurm import SlurmLauncher
from gridwait.workers.launchers.slurm_cli import SlurmCli, SlurmJob, Submission
from tests.conftest import DEMO
from tests.slurm_cluster import DAEMON_TZ, SBIN

pytestmark = pytest.mark.slow
ALICE = Actor("alice", Role.MEMBER)
H = timedelta(hours=1)
T = TypeVar("T")


class Hourly(IntensityProvider):
    """Intensities per `period` (an hour unless a test says otherwise) from the period
    before now: 400 g/kWh, except `clean` periods (index from that first one) at 100 and
    `fair` ones at 150. A test changes them to publish a new forecast."""

    name = "hourly"
    signal = "average"

    def __init__(self, clean: set[int], period: timedelta = H) -> None:
        self.clean, self.period = clean, period
        self.fair: set[int] = set()

    def _series(self, kind: str, start: datetime) -> IntensitySeries:
        first = _first(self.period)
        count = int(80 * H / self.period)
        grade = {**dict.fromkeys(self.fair, 150.0), **dict.fromkeys(self.clean, 100.0)}
        values = np.array([grade.get(i, 400.0) for i in range(count)])
        return IntensitySeries(
            "Z",
            self.name,
            "average",
            kind,  # type: ignore[arg-type]
            first,
            self.period,
            values,
            issued_at=first,
        )

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("forecast", start)

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("actual", start)


@dataclass
class Front:
    """gridwait in front of the cluster: settings, use-case deps, the service, Slurm."""

    settings: Settings
    deps: Deps
    service: Service
    provider: Hourly
    slurm: SlurmCli

    def submit(self, name: str, model: str, **fields: Any) -> int:
        body = {
            "name": name,
            "model": model,
            "dataset": {"path": str(DEMO), "limit": 16},
            "max_length": 32,
            "batch_size": 16,
            "deadline": "30h",
            **fields,
        }
        return submit_remote(self.deps, ALICE, JobSpec.model_validate(body)).job.id

    def job(self, job_id: int) -> Job:
        with self.deps.store().read() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def runs(self, job_id: int) -> list[Run]:
        with self.deps.store().read() as session:
            return list(runs_of(session, job_id))

    def slurm_job(self, run: Run) -> SlurmJob:
        assert run.handle is not None
        found = self.slurm.job(int(run.handle))
        assert found is not None, f"Slurm does not know job {run.handle}"
        return found


def wait(
    what: str, probe: Callable[[], T | None], timeout: float = 90, why: Callable[[], str] = str
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {why()}")


def serve_api(monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Deps, ApiServer]:
    """The settings GRIDWAIT_CONFIG names, with alice a member and an API server started
    on them (the caller stops it): the workers on the "compute node" reach this API, and
    they get no database at all (GRIDWAIT_DB and GRIDWAIT_CONFIG are unset)."""
    settings = load_settings()
    deps = Deps(settings, SystemClock())
    add_user(deps, host_admin(), "alice", Role.MEMBER)
    server = ApiServer(deps, "127.0.0.1", 0)
    server.start()
    slurm = settings.slurm.model_copy(update={"api_url": server.url})
    settings = settings.model_copy(update={"slurm": slurm})
    deps.settings = settings
    for name in ("GRIDWAIT_DB", "GRIDWAIT_CONFIG"):
        monkeypatch.delenv(name)
    return settings, deps, server


def until_teardown(world: Front, server: ApiServer) -> Iterator[Front]:
    """For a fixture to `yield from`: the front; afterwards every live Slurm job is
    cancelled, the API server stopped and the deps closed."""
    try:
        yield world
    finally:
        for job in world.slurm.jobs():
            if job.live:
                world.slurm.cancel(job.job_id)
        server.stop()
        world.deps.close()


@pytest.fixture
def front(
    env: Path, tmp_path: Path, slurm_conf: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Front]:
    config = tmp_path / "gridwait.toml"
    config.write_text(
        f"""launcher = "slurm"
[scheduler]
gpus = 0
cpu_slots = 3
step_minutes = 1
min_segment_minutes = 0
resume_overhead_minutes = 0
tick_seconds = 0.5
lease_seconds = 120
[energy]
sample_seconds = 1
[slurm]
conf = "{slurm_conf}"
python = "{sys.executable}"
partition = "debug"
api_url = "http://127.0.0.1:1"
[slurm.partitions.debug]
gpus = 0
time_limit_minutes = 10
"""
    )
    settings, deps, server = serve_api(monkeypatch)
    provider = Hourly({3})
    launcher = make_launcher(settings)
    assert isinstance(launcher, SlurmLauncher)
    service = Service(settings, deps.clock, deps.store(), provider, launcher)
    world = Front(settings, deps, service, provider, launcher.cli)
    yield from until_teardown(world, server)


def test_runs_are_booked_at_their_planned_start_moved_and_cancelled(front: Front) -> None:
    jobs = [front.submit(name, "builtin:minilm") for name in ("a", "b", "c")]
    front.service.replan()
    booked = {}
    for job_id in jobs:
        job = front.job(job_id)
        assert job.state == JobState.PLANNED and job.planned_start is not None
        (run,) = front.runs(job_id)
        assert run.state == RunState.CLAIMED and run.handle is not None
        queued = front.slurm_job(run)
        assert queued.state == "PENDING" and queued.name == f"gridwait-{job_id}"
        assert queued.begin is not None
        assert abs(queued.begin - job.planned_start) <= timedelta(seconds=1)
        clean = _first_hour() + 3 * H
        assert clean <= job.planned_start < clean + H  # in the clean hour, not now
        booked[job_id] = run.handle

    front.provider.clean = {5}  # a new forecast: the clean hour is two hours later
    front.service.replan()
    for job_id in jobs:
        job = front.job(job_id)
        (run,) = front.runs(job_id)
        assert run.handle == booked[job_id]  # moved, not submitted anew
        queued = front.slurm_job(run)
        assert job.planned_start is not None and queued.begin is not None
        assert abs(queued.begin - job.planned_start) <= timedelta(seconds=1)
        clean = _first_hour() + 5 * H
        assert clean <= job.planned_start < clean + H

    cancel(front.deps, ALICE, jobs[1])
    front.service.tick()
    (run,) = front.runs(jobs[1])
    assert run.state == RunState.LOST
    gone = wait("the cancel to reach Slurm", lambda: _state(front, booked[jobs[1]]) == "CANCELLED")
    assert gone
    for job_id in (jobs[0], jobs[2]):  # the others are untouched
        assert _state(front, booked[job_id]) == "PENDING"


def _first(period: timedelta) -> datetime:
    """The provider's first period (the one before now's), as Hourly computes it."""
    now = datetime.now(UTC)
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    return now - (now - epoch) % period - period


def _first_hour() -> datetime:
    return _first(H)


def _state(front: Front, handle: str) -> str | None:
    found = front.slurm.job(int(handle))
    return None if found is None else found.state


def _over(front: Front, job_id: int) -> bool:
    return front.job(job_id).state in (JobState.SUCCEEDED, JobState.FAILED)


def test_a_worker_in_a_slurm_job_reports_over_the_api(front: Front, tiny_model: Path) -> None:
    front.provider.clean = set(range(80))  # flat: start at once
    job_id = front.submit("now", str(tiny_model))
    front.service.start()  # its timers now plan, book, follow and conclude
    try:
        run = wait(
            "a booked run", lambda: next((r for r in front.runs(job_id) if r.handle), None), 30
        )
        assert run.handle is not None
        handle = run.handle

        def why() -> str:
            (run,) = front.runs(job_id)
            log = Path(run.log_path).read_text() if run.log_path else ""
            return f"{front.job(job_id)}\n{run}\n{front.slurm.job(int(handle))}\n{log}"

        wait("the Slurm job's worker to finish", lambda: _over(front, job_id), 180, why)
    finally:
        front.service.stop()
    job = front.job(job_id)
    (run,) = front.runs(job_id)
    log = Path(run.log_path or "").read_text() if run.log_path else ""
    assert job.state == JobState.SUCCEEDED, log
    assert run.handle == handle and run.state == RunState.SUCCEEDED
    assert run.energy_it_j is not None and run.energy_it_j > 0
    assert run.steps and run.steps > 0
    with front.deps.store().read() as session:
        samples = len(session.exec(select(EnergySample).where(EnergySample.run_id == run.id)).all())
    assert samples >= 2  # heartbeats carried samples over the API
    over = wait("Slurm to record the job as over", lambda: front.slurm.finished(int(handle)), 30)
    assert over.state == "COMPLETED" and over.exit_code == 0
    # the test cluster has no energy plugin: Slurm measured nothing, and none is claimed
    assert over.energy_joules in (None, 0) and run.engine_energy_j is None


def test_capacity_is_checked_against_sinfo_and_a_busy_cluster_shows_in_the_plan(
    front: Front, tmp_path: Path
) -> None:
    launcher = SlurmLauncher(front.settings.slurm)
    launcher.check_capacity(0)  # the test partition's node declares no GPUs
    claims = front.settings.slurm.partitions["debug"].model_copy(update={"gpus": 2})
    slurm = front.settings.slurm.model_copy(update={"partitions": {"debug": claims}})
    boastful = front.settings.model_copy(update={"slurm": slurm})
    service = Service(boastful, front.deps.clock, front.deps.store(), front.provider, launcher)
    with pytest.raises(LaunchError, match=r"gpus = 2, but sinfo shows 0 GPU\(s\) in partition"):
        service.start()

    assert "no job waits" in (plan(front.deps, ALICE).notes or [""])[-1]
    hog = tmp_path / "hog.sh"
    hog.write_text("#!/bin/sh\nsleep 120\n")
    for n in range(3):  # one CPU each on a two-CPU node: the third waits
        front.slurm.submit(Submission(hog, None, f"hog-{n}", tmp_path / f"hog-{n}.out"))

    def settled_in() -> bool:
        states = sorted(j.state for j in front.slurm.jobs() if j.name.startswith("hog-"))
        return states == ["PENDING", "RUNNING", "RUNNING"]

    wait("two hogs running and one pending", settled_in, 30)
    notes = plan(front.deps, ALICE).notes
    assert any("1 job(s) pending for resources" in note for note in notes), notes


def test_a_node_failure_settles_the_run_and_requeues_the_job(
    front: Front, tiny_model: Path, slurm_conf: Path
) -> None:
    front.provider.clean = set(range(80))
    job_id = front.submit("long", str(tiny_model), epochs=40, max_retries=1)
    front.service.start()
    try:
        run = wait("a booked run", lambda: next((r for r in front.runs(job_id) if r.handle), None))
        handle = int(run.handle or 0)

        def measured() -> bool:
            with front.deps.store().read() as session:
                query = select(EnergySample).where(EnergySample.run_id == run.id)
                return len(session.exec(query).all()) >= 2

        wait("the worker's first heartbeats", measured, 120)
        _fail_node(slurm_conf, handle)
        first = wait("the lost run to be settled", lambda: _ended(front, job_id), 60)
        assert first.state == RunState.LOST and "without reporting" in (first.error or "")
        assert first.energy_it_j is not None and first.energy_it_j > 0  # partial energy kept
        gone = front.slurm.job(handle)
        assert gone is not None and gone.state == "NODE_FAIL"
        again = wait("the re-queued job booked anew", lambda: _rebooked(front, job_id, handle), 60)
        assert again.attempt == 2 and again.state == RunState.CLAIMED
    finally:
        front.service.stop()
        _restore_node(slurm_conf)


def _ended(front: Front, job_id: int) -> Run | None:
    runs = front.runs(job_id)
    return runs[0] if runs and runs[0].state == RunState.LOST else None


def _rebooked(front: Front, job_id: int, old: int) -> Run | None:
    runs = front.runs(job_id)
    return runs[-1] if len(runs) == 2 and runs[-1].handle not in (None, str(old)) else None


def _slurm_env(conf: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{os.environ['PATH']}:{SBIN}", "SLURM_CONF": str(conf)}


def _fail_node(conf: Path, job: int) -> None:
    """The node dies: its slurmd and the job's processes are killed (by pid), and the node
    is marked DOWN, as the controller does itself after SlurmdTimeout (300 s)."""
    os.kill(int((conf.parent / "slurmd.pid").read_text().split()[0]), signal.SIGKILL)
    for pid in _processes_of(job):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    down = ["scontrol", "update", "NodeName=localhost", "State=DOWN", "Reason=gridwait-test"]
    subprocess.run(down, env=_slurm_env(conf), check=True, timeout=20)


def _processes_of(job: int) -> list[int]:
    """The job's slurmstepd and everything running with its SLURM_JOB_ID."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"[{job}.".encode() in command or f"SLURM_JOB_ID={job}\0".encode() in environ:
            found.append(int(entry.name))
    return found


def _restore_node(conf: Path) -> None:
    """slurmd back, the node resumed and idle: the session's cluster serves later tests."""
    env = {**_slurm_env(conf), "TZ": DAEMON_TZ}
    subprocess.run(["slurmd", "-f", str(conf), "-N", "localhost"], env=env, check=True, timeout=30)
    resume = ["scontrol", "update", "NodeName=localhost", "State=RESUME"]
    subprocess.run(resume, env=env, check=False, timeout=20)

    def idle() -> bool:
        done = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"],
            env=env,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return done.stdout.strip() == "idle"

    wait("the node to be idle again", idle, 60)


def test_an_interruptible_job_runs_as_two_slurm_jobs(front: Front, tiny_model: Path) -> None:
    """Two clean minutes with a dirty one between: the plan splits the job, the first Slurm
    job is signalled at its segment's end (the worker checkpoints, exits 75), the second
    segment is submitted anew and resumes from the checkpoint. Real minutes: slow."""
    # clean minutes 2 and 4, dirty 3, fair from 5: the plan splits the job over minutes 2
    # and 4; whatever is left after the first segment fits from minute 4 in one piece
    front.provider.period, front.provider.clean = timedelta(minutes=1), {2, 4}
    front.provider.fair = set(range(5, 30))
    # 12,000 steps: 1.5 minutes on an idle 2-core machine, up to 6 under load; never done
    # inside the first clean minute (6,000 steps once were, in 47 s)
    limit, epochs, batch = 480, 400, 16
    dataset = {"path": str(DEMO), "limit": limit}
    job_id = front.submit(
        "split", str(tiny_model), interruptible=True, epochs=epochs, dataset=dataset
    )
    with front.deps.store().write() as session:
        job = session.get(Job, job_id)
        assert job is not None
        # planned as 75 s of work: one clean minute is not enough, two are
        job.est_energy_j = 75.0 * 10
        job.est_seconds = 75.0
        session.add(job)
    front.service.start()
    try:

        def why() -> str:
            return f"{front.job(job_id)}\n" + "\n".join(str(r) for r in front.runs(job_id))

        wait("both segments", lambda: _over(front, job_id), timeout=900, why=why)
    finally:
        front.service.stop()
    runs = front.runs(job_id)
    assert len(runs) == 2, why()
    first, second = runs
    assert front.job(job_id).state == JobState.SUCCEEDED
    assert first.state == RunState.SUSPENDED and (first.segment, second.segment) == (0, 1)
    assert second.state == RunState.SUCCEEDED and first.handle != second.handle
    assert first.steps is not None and 0 < first.steps < (second.total_steps or 0)
    uninterrupted = epochs * -(-limit // batch)  # optimizer steps of one straight run
    assert second.steps == second.total_steps == uninterrupted
    suspended = front.slurm.finished(int(first.handle or 0))
    assert suspended is not None and suspended.exit_code == 75  # checkpointed, resume me
