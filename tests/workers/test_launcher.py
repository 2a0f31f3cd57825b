"""The local launcher: a real subprocess per run, followed, suspended and cancelled by
signal; and, after a service restart, followed by pid alone."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from gridwait.workers.launchers.base import LaunchState, RunRequest, Status
from gridwait.workers.launchers.local import LocalLauncher

FAKE_WORKER = """#!{python}
import os, signal, sys, time
print("args", sys.argv[1:], "gpus", repr(os.environ.get("CUDA_VISIBLE_DEVICES")), flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(75))  # checkpoint and exit, as the worker does
time.sleep(60)
"""


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    """An executable that stands in for python -m gridwait.workers: it sleeps until signalled."""
    path = tmp_path / "fake-python"
    path.write_text(FAKE_WORKER.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def wait_exit(launcher: LocalLauncher, handle: str, seconds: float = 10) -> Status:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = launcher.poll(handle)
        if status.state == LaunchState.EXITED:
            return status
        time.sleep(0.05)
    raise AssertionError("the worker did not exit")


def request(tmp_path: Path, gpus: list[str]) -> RunRequest:
    return RunRequest(
        7, 3, gpus, tmp_path / "logs" / "run-7.log", {"GRIDWAIT_DB": str(tmp_path / "x.db")}
    )


def wait_log(path: Path) -> str:
    for _ in range(100):
        if path.exists() and "args" in path.read_text():
            return path.read_text()
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


def test_start_passes_gpus_and_arguments_without_a_shell(tmp_path: Path, fake_python: str) -> None:
    launcher = LocalLauncher(python=fake_python)
    handle = launcher.start(request(tmp_path, ["1", "3"]))
    text = wait_log(tmp_path / "logs" / "run-7.log")
    assert "args ['-m', 'gridwait.workers', 'run', '--run-id', '7']" in text
    assert "gpus '1,3'" in text
    assert launcher.poll(handle).state == LaunchState.RUNNING
    launcher.cancel(handle)
    assert wait_exit(launcher, handle).exit_code == -signal.SIGKILL


def test_suspend_is_sigterm(tmp_path: Path, fake_python: str) -> None:
    launcher = LocalLauncher(python=fake_python)
    handle = launcher.start(request(tmp_path, []))
    wait_log(tmp_path / "logs" / "run-7.log")
    launcher.suspend(handle)
    assert wait_exit(launcher, handle).exit_code == 75


def test_a_restarted_service_follows_by_pid(tmp_path: Path, fake_python: str) -> None:
    first = LocalLauncher(python=fake_python)
    handle = first.start(request(tmp_path, []))
    wait_log(tmp_path / "logs" / "run-7.log")
    second = LocalLauncher(python=fake_python)  # knows nothing but the handle
    assert second.poll(handle).state == LaunchState.RUNNING
    second.cancel(handle)
    first.poll(handle)  # reap the zombie, as the old service would have
    deadline = time.monotonic() + 10
    while second.poll(handle).state != LaunchState.EXITED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert second.poll(handle) == Status(LaunchState.EXITED)
    second.cancel(handle)  # already gone: not an error


def test_the_real_worker_refuses_a_run_that_is_not_claimed(tmp_path: Path) -> None:
    launcher = LocalLauncher()
    settings = tmp_path / "empty.toml"
    settings.touch()
    req = RunRequest(
        999,
        1,
        [],
        tmp_path / "run.log",
        {"GRIDWAIT_DB": str(tmp_path / "w.db"), "GRIDWAIT_CONFIG": str(settings)},
    )
    handle = launcher.start(req)
    assert wait_exit(launcher, handle, 60).exit_code == 3
    assert "is not claimed" in req.log_path.read_text()
