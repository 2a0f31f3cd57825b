"""The Slurm adapter without Slurm: its command lines, how it reads Slurm's answers, its
errors, and the state mapping. Fake `sbatch`/`squeue` scripts on PATH stand in for the
tools; tests/workers/test_slurm_daemons.py runs the same adapter against real daemons."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gridwait.errors import LaunchError, SlurmError
from gridwait.states import RunState
from gridwait.workers.launchers.base import LaunchState, Status
from gridwait.workers.launchers.slurm_cli import (
    SlurmCli,
    SlurmSettings,
    Submission,
    _sacct_row,
    _squeue_job,
    run_state,
    sbatch_args,
    slurm_time,
)

IST = timezone(timedelta(hours=5, minutes=30))


def test_slurm_time_is_utc_without_a_zone() -> None:
    assert slurm_time(datetime(2026, 3, 2, 14, 30, 5, tzinfo=IST)) == "2026-03-02T09:00:05"
    assert slurm_time(datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)) == "2026-03-02T09:00:05"


def test_slurm_time_rounds_up_so_a_job_never_starts_early() -> None:
    moment = datetime(2026, 3, 2, 9, 0, 5, 1, tzinfo=UTC)
    assert slurm_time(moment) == "2026-03-02T09:00:06"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slurm_time(datetime(2026, 3, 2, 9, 0))


def test_sbatch_arguments() -> None:
    submission = Submission(
        script=Path("/runs/7/job.sh"),
        begin=datetime(2026, 3, 2, 10, 0, tzinfo=IST),
        name="gridwait-12",
        output=Path("/runs/7/log.txt"),
        gpus=2,
        partition="gpu",
        qos="low",
        time_limit=timedelta(days=1, hours=2, minutes=3, seconds=4.5),
    )
    assert sbatch_args(submission) == [
        "sbatch",
        "--parsable",
        "--begin=2026-03-02T04:30:00",
        "--job-name=gridwait-12",
        "--output=/runs/7/log.txt",
        "--gpus=2",
        "--partition=gpu",
        "--qos=low",
        "--time=1-02:03:05",
        "/runs/7/job.sh",
    ]


def test_sbatch_arguments_leave_out_what_is_not_set() -> None:
    submission = Submission(Path("j.sh"), datetime(2026, 3, 2, tzinfo=UTC), "n", Path("o"))
    assert sbatch_args(submission) == [
        "sbatch",
        "--parsable",
        "--begin=2026-03-02T00:00:00",
        "--job-name=n",
        "--output=o",
        "j.sh",
    ]


# What squeue --json of Slurm 22.05.8 said (fields trimmed): exit_code is a wait status.
PENDING = {
    "job_id": 5,
    "name": "gridwait-1",
    "job_state": "PENDING",
    "state_reason": "BeginTime",
    "eligible_time": 1796487380,
    "start_time": 1796487380,
    "end_time": 6091454616,
    "exit_code": 0,
}


def test_a_pending_job_from_squeue() -> None:
    job = _squeue_job(PENDING)
    begin = datetime(2026, 12, 5, 16, 16, 20, tzinfo=UTC)
    assert (job.job_id, job.state, job.reason, job.begin, job.start) == (
        5,
        "PENDING",
        "BeginTime",
        begin,
        begin,
    )
    assert job.end is None and job.exit_code is None and job.live
    assert job.run_state() == RunState.CLAIMED
    assert job.status() == Status(LaunchState.RUNNING)


@pytest.mark.parametrize(
    ("state", "wait_status", "code", "signal", "run"),
    [
        ("COMPLETED", 0, 0, None, RunState.SUCCEEDED),
        ("FAILED", 768, 3, None, RunState.FAILED),
        ("FAILED", 19200, 75, None, RunState.SUSPENDED),
        ("CANCELLED", 9, None, 9, RunState.LOST),
    ],
)
def test_an_ended_job_from_squeue(
    state: str, wait_status: int, code: int | None, signal: int | None, run: RunState
) -> None:
    item = {**PENDING, "job_state": state, "exit_code": wait_status, "end_time": 1796487390}
    job = _squeue_job(item)
    assert (job.exit_code, job.signal, job.live) == (code, signal, False)
    assert job.end == datetime(2026, 12, 5, 16, 16, 30, tzinfo=UTC)
    assert job.run_state() == run
    assert job.status() == Status(LaunchState.EXITED, code)


def test_squeue_of_later_slurm_versions() -> None:
    """23.02 on: the state is a list, times and exit codes are objects."""
    item = {
        **PENDING,
        "job_state": ["FAILED"],
        "eligible_time": {"set": True, "infinite": False, "number": 1796487380},
        "end_time": {"set": False, "infinite": False, "number": 0},
        "exit_code": {"status": ["EXITED"], "return_code": {"number": 3}, "signal": {}},
    }
    job = _squeue_job(item)
    assert (job.state, job.exit_code, job.end) == ("FAILED", 3, None)
    assert job.begin == datetime(2026, 12, 5, 16, 16, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("3|FAILED|3:0|", (3, "FAILED", 3, None, None)),
        ("4|CANCELLED by 0|0:15|", (4, "CANCELLED", None, 15, None)),
        ("8|COMPLETED|0:0|123456", (8, "COMPLETED", 0, None, 123456)),
    ],
)
def test_sacct_rows(line: str, expected: tuple[object, ...]) -> None:
    row = _sacct_row(line)
    assert row is not None
    assert (row.job_id, row.state, row.exit_code, row.signal, row.energy_joules) == expected


def test_a_steps_sacct_row_is_not_the_jobs() -> None:
    assert _sacct_row("8.batch|COMPLETED|0:0|") is None


@pytest.mark.parametrize(
    ("state", "code", "expected"),
    [
        ("PENDING", None, RunState.CLAIMED),
        ("RUNNING", None, RunState.RUNNING),
        ("COMPLETING", None, RunState.RUNNING),
        ("COMPLETED", 0, RunState.SUCCEEDED),
        ("FAILED", 1, RunState.FAILED),
        ("FAILED", 75, RunState.SUSPENDED),
        ("TIMEOUT", None, RunState.FAILED),
        ("CANCELLED", 75, RunState.LOST),
        ("CANCELLED by 0", None, RunState.LOST),
        ("NODE_FAIL", None, RunState.LOST),
        ("PREEMPTED", None, RunState.LOST),
    ],
)
def test_run_states(state: str, code: int | None, expected: RunState) -> None:
    assert run_state(state, code) == expected


def _fake_tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_commands_run_under_utc_with_the_configured_slurm_conf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tool(tmp_path, "sbatch", 'echo "$TZ $SLURM_CONF $GRIDWAIT_RUN $*" > "$0.args"; echo 42')
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    monkeypatch.setenv("SLURM_CONF", "/elsewhere/slurm.conf")
    slurm = SlurmCli(SlurmSettings(conf=Path("/etc/lab/slurm.conf")))
    submission = Submission(
        Path("j.sh"),
        datetime(2026, 3, 2, 9, tzinfo=UTC),
        "n",
        Path("o"),
        environment={"GRIDWAIT_RUN": "7"},
    )
    assert slurm.submit(submission) == 42
    said = (tmp_path / "sbatch.args").read_text().split()
    assert said[:3] == ["UTC", "/etc/lab/slurm.conf", "7"]
    assert "--begin=2026-03-02T09:00:00" in said


def test_a_failed_command_names_itself_and_slurms_first_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tool(
        tmp_path,
        "scontrol",
        'echo "scontrol: error: Invalid job id specified" >&2; echo more >&2; exit 1',
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmError, match=r"^scontrol update: Invalid job id specified$"):
        SlurmCli().move(9, datetime(2026, 3, 2, tzinfo=UTC))


def test_a_missing_tool_is_a_launch_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LaunchError, match="squeue: squeue is not installed"):
        SlurmCli().jobs()


def test_a_hanging_tool_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path, "squeue", "exec sleep 10")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(SlurmError, match=r"squeue: no answer in 0\.2 s"):
        SlurmCli(SlurmSettings(timeout=0.2)).jobs()


def test_unreadable_json_is_a_slurm_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path, "squeue", "echo '{\"jobs\": [{}]}'")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SlurmError, match="unreadable answer"):
        SlurmCli().jobs()


def _fake_squeue(folder: Path, state: str) -> None:
    answer = json.dumps({"jobs": [{**PENDING, "job_id": 2, "job_state": state}]})
    _fake_tool(folder, "squeue", f"echo '{answer}'")


def test_a_job_that_ended_since_is_not_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_squeue(tmp_path, "RUNNING")
    body = 'echo "scancel: error: Kill job error on job id 2: Invalid job id specified" >&2; exit 1'
    _fake_tool(tmp_path, "scancel", body)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert SlurmCli().signal(2) is False


@pytest.mark.parametrize("state", ["PENDING", "COMPLETED"])
def test_only_a_running_job_is_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """scancel --signal on a pending job waits, silently, until it starts."""
    _fake_squeue(tmp_path, state)
    _fake_tool(tmp_path, "scancel", 'touch "$0.called"')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert SlurmCli().signal(2) is False
    assert not (tmp_path / "scancel.called").exists()


def test_a_running_job_is_signalled_with_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_squeue(tmp_path, "RUNNING")
    _fake_tool(tmp_path, "scancel", 'echo "$*" > "$0.args"')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert SlurmCli().signal(2, "USR1") is True
    assert (tmp_path / "scancel.args").read_text().split() == ["--full", "--signal=USR1", "2"]
