"""The Slurm adapter against real daemons (the session's `slurm_conf` cluster, whose
daemons live in UTC+05:30 while this process's TZ is yet another zone).

Waits are bounded polls, never fixed sleeps: the controller schedules every 5 s.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from gridwait.errors import SlurmError
from gridwait.states import RunState
from gridwait.workers.launchers.base import LaunchState, Status
from gridwait.workers.launchers.slurm_cli import (
    Accounting,
    SlurmCli,
    SlurmJob,
    SlurmSettings,
    Submission,
)

pytestmark = pytest.mark.slow

T = TypeVar("T")


@pytest.fixture
def slurm(slurm_conf: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlurmCli]:
    # The caller's own zone must not matter (sbatch reads --begin in its local zone).
    monkeypatch.setenv("TZ", "<-07>7")
    monkeypatch.delenv("SLURM_CONF", raising=False)
    cli = SlurmCli(SlurmSettings(conf=slurm_conf, timeout=20))
    yield cli
    for job in cli.jobs():  # a failed test leaves nothing pending or running
        if job.live:
            cli.cancel(job.job_id)


def _script(folder: Path, body: str) -> Path:
    path = folder / "job.sh"
    path.write_text(f"#!/bin/sh\n{body}\n")
    return path


def _submit(slurm: SlurmCli, script: Path, begin: datetime) -> int:
    output = script.parent / "out.txt"
    return slurm.submit(Submission(script, begin, f"gridwait-test-{script.parent.name}", output))


def _wait(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def _job(slurm: SlurmCli, job_id: int) -> SlurmJob:
    job = slurm.job(job_id)
    assert job is not None, f"squeue does not know job {job_id}"
    return job


def _finished(slurm: SlurmCli, job_id: int) -> Accounting:
    return _wait(f"job {job_id} in the job-completion file", lambda: slurm.finished(job_id))


def _later(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def test_a_job_waits_for_its_begin_time(slurm: SlurmCli, tmp_path: Path) -> None:
    begin = _later(600)
    job_id = _submit(slurm, _script(tmp_path, "exit 0"), begin)

    def waiting() -> SlurmJob | None:
        job = _job(slurm, job_id)
        return job if job.reason == "BeginTime" else None

    job = _wait("reason BeginTime", waiting)
    assert (job.state, job.begin) == ("PENDING", begin)
    assert job.run_state() == RunState.CLAIMED
    assert slurm.signal(job_id, "TERM") is False  # no worker yet: nothing to signal


def test_a_job_starts_once_its_begin_time_is_past(slurm: SlurmCli, tmp_path: Path) -> None:
    """Seconds ahead, end to end: a begin read in any zone but UTC would be hours off."""
    begin = _later(4)
    job_id = _submit(slurm, _script(tmp_path, "exit 0"), begin)
    job = _job(slurm, job_id)
    assert job.begin == begin
    if datetime.now(UTC) < begin - timedelta(seconds=1):  # asked in time to see it wait
        assert job.state == "PENDING"
    assert _finished(slurm, job_id).state == "COMPLETED"
    started = _job(slurm, job_id).start
    assert started is not None and begin <= started < begin + timedelta(seconds=60)


def test_move_changes_the_begin_time_later_and_earlier(slurm: SlurmCli, tmp_path: Path) -> None:
    job_id = _submit(slurm, _script(tmp_path, "exit 0"), _later(600))
    for begin in (_later(1200), _later(300)):
        slurm.move(job_id, begin)
        job = _job(slurm, job_id)
        assert (job.state, job.begin) == ("PENDING", begin)


def test_cancel_ends_a_pending_job(slurm: SlurmCli, tmp_path: Path) -> None:
    job_id = _submit(slurm, _script(tmp_path, "exit 0"), _later(600))
    slurm.cancel(job_id)
    job = _job(slurm, job_id)
    assert job.state == "CANCELLED" and not job.live
    assert _finished(slurm, job_id).state == "CANCELLED"
    slurm.cancel(job_id)  # a job already over is not an error


def test_a_job_slurm_never_had(slurm: SlurmCli) -> None:
    assert slurm.job(999_999) is None
    assert slurm.finished(999_999) is None


@pytest.mark.parametrize(
    ("body", "state", "code", "run"),
    [
        ("sleep 1; exit 0", "COMPLETED", 0, RunState.SUCCEEDED),
        ("exit 3", "FAILED", 3, RunState.FAILED),
    ],
)
def test_a_job_that_runs_ends_with_its_exit_code(
    slurm: SlurmCli, tmp_path: Path, body: str, state: str, code: int, run: RunState
) -> None:
    job_id = _submit(slurm, _script(tmp_path, body), datetime.now(UTC))
    done = _finished(slurm, job_id)
    assert (done.state, done.exit_code, done.signal, done.run_state()) == (state, code, None, run)
    assert done.energy_joules is None  # no energy plugin here
    job = _job(slurm, job_id)
    assert (job.state, job.exit_code) == (state, code)
    assert job.status() == Status(LaunchState.EXITED, code)
    assert job.start is not None and job.end is not None and job.start <= job.end


def test_a_refused_submission_says_why(slurm: SlurmCli, tmp_path: Path) -> None:
    script = _script(tmp_path, "exit 0")
    submission = Submission(script, datetime.now(UTC), "n", tmp_path / "o", partition="nope")
    with pytest.raises(SlurmError, match=r"^sbatch: invalid partition specified: nope$"):
        slurm.submit(submission)


WORKER = f"""\
echo shell up
exec {sys.executable} -c '
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(75))
print("worker ready", flush=True)
time.sleep(60)
sys.exit(1)
'
"""


def test_term_reaches_the_worker_which_suspends_with_75(slurm: SlurmCli, tmp_path: Path) -> None:
    """The batch script execs the worker, as gridwait's will exec `python -m
    gridwait.workers`; `signal` must reach it (`scancel --signal` alone does not)."""
    job_id = _submit(slurm, _script(tmp_path, WORKER), datetime.now(UTC))
    output = tmp_path / "out.txt"

    def ready() -> bool | None:  # its SIGTERM handler is in place
        return True if output.exists() and "worker ready" in output.read_text() else None

    _wait("the worker is ready", ready)
    assert _job(slurm, job_id).state == "RUNNING"
    assert slurm.signal(job_id, "TERM") is True
    done = _finished(slurm, job_id)
    assert (done.state, done.exit_code, done.run_state()) == ("FAILED", 75, RunState.SUSPENDED)
    assert _job(slurm, job_id).status() == Status(LaunchState.EXITED, 75)
    assert slurm.signal(job_id, "TERM") is False  # nothing left to signal
