"""One contract test for every launcher: the local one (a process here) and Slurm's (a
batch job of the session's real cluster). Both start a stand-in worker, follow it,
suspend it into exit 75, cancel one, shrug at a cancel of one already gone, and keep
their promise about `move`; `poll_all` answers as `poll` does."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gridwait.errors import LaunchError
from gridwait.slurm_settings import PartitionSettings, SlurmSettings
from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status
from gridwait.workers.launchers.local import LocalLauncher
from gridwait.workers.launchers.slurm import SlurmLauncher
from tests.workers.test_launcher import FAKE_WORKER


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    """Stands in for python -m gridwait.workers: prints its arguments, sleeps until
    signalled, exits 75 on SIGTERM."""
    path = tmp_path / "fake-python"
    path.write_text(FAKE_WORKER.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def wait_log(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and "args" in path.read_text():
            return path.read_text()
        time.sleep(0.1)
    return path.read_text() if path.exists() else ""


@pytest.fixture(params=["local", "slurm"])
def launcher(request: pytest.FixtureRequest, fake_python: str) -> Iterator[Launcher]:
    if request.param == "local":
        yield LocalLauncher(python=fake_python)
        return
    conf = request.getfixturevalue("slurm_conf")
    settings = SlurmSettings(
        conf=conf,
        python=fake_python,
        partition="debug",
        partitions={"debug": PartitionSettings(gpus=0, time_limit_minutes=5)},
    )
    slurm = SlurmLauncher(settings)
    yield slurm
    for job in slurm.cli.jobs():
        if job.live and job.name.startswith("gridwait-"):
            slurm.cli.cancel(job.job_id)


def _request(tmp_path: Path, run_id: int, begin: datetime | None = None) -> RunRequest:
    log = tmp_path / "logs" / f"run-{run_id}.log"
    return RunRequest(run_id, 3, [], log, {"GRIDWAIT_RUN_TOKEN": "t"}, begin=begin, gpus=0)


def _until_exit(launcher: Launcher, handle: str, seconds: float = 60) -> Status:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = launcher.poll(handle)
        if status.state == LaunchState.EXITED:
            return status
        time.sleep(0.2)
    raise AssertionError(f"{handle} did not exit")


@pytest.mark.slow
def test_the_launcher_contract(launcher: Launcher, tmp_path: Path) -> None:
    first = _request(tmp_path, 7)
    handle = launcher.start(first)
    text = wait_log(first.log_path, seconds=60)
    assert "'run', '--run-id', '7'" in text  # python -m gridwait.workers run --run-id 7
    assert launcher.poll(handle).state == LaunchState.RUNNING
    launcher.suspend(handle)  # the worker checkpoints and exits 75
    assert _until_exit(launcher, handle).exit_code == 75

    second = launcher.start(_request(tmp_path, 8))
    wait_log(tmp_path / "logs" / "run-8.log", seconds=60)
    both = launcher.poll_all([handle, second])  # one answer for all (Slurm: one squeue)
    assert set(both) == {handle, second} and both[second] == Status(LaunchState.RUNNING)
    assert both[handle].state == LaunchState.EXITED  # its code was told once, above
    launcher.cancel(second)
    assert _until_exit(launcher, second).state == LaunchState.EXITED
    launcher.cancel(second)  # already gone: not an error

    later = datetime.now(UTC) + timedelta(hours=2)
    if launcher.submits_ahead:
        ahead = launcher.start(_request(tmp_path, 9, begin=later))
        assert launcher.poll(ahead).state == LaunchState.RUNNING  # queued: not over
        launcher.move(ahead, later + timedelta(hours=1))
        if isinstance(launcher, SlurmLauncher):
            queued = launcher.cli.job(int(ahead))
            assert queued is not None and queued.begin is not None
            assert abs(queued.begin - (later + timedelta(hours=1))) <= timedelta(seconds=1)
        launcher.cancel(ahead)
    else:
        with pytest.raises(LaunchError, match="nothing to move"):
            launcher.move(handle, later)
