"""The Slurm launcher's parts that the test cluster cannot show: energy accounting (it has
no energy plugin) and GPUs in gres (it has none). Slurm's tools are stand-in scripts on
PATH that print what Slurm 22.05 prints."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from gridwait.errors import ConfigError, LaunchError
from gridwait.slurm_settings import PartitionSettings, SlurmSettings
from gridwait.workers.launchers.base import LaunchState, Status
from gridwait.workers.launchers.slurm import SlurmLauncher
from gridwait.workers.launchers.slurm_cli import gres_gpus


def _tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SlurmLauncher:
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = SlurmSettings(partition="gpu", partitions={"gpu": PartitionSettings(gpus=8)})
    slurm = SlurmLauncher(settings)
    slurm.accounting_tries = 0
    return slurm


def test_slurm_measured_energy_is_kept_with_its_method(
    tmp_path: Path, launcher: SlurmLauncher
) -> None:
    _tool(tmp_path, "sacct", "echo '41|COMPLETED|0:0|523400'; echo '41.batch|COMPLETED|0:0|523400'")
    assert launcher.measured_energy("41") == (523400.0, "slurm_acct")


@pytest.mark.parametrize("energy", ["0", ""])
def test_no_energy_plugin_is_no_measurement(
    tmp_path: Path, launcher: SlurmLauncher, energy: str
) -> None:
    _tool(tmp_path, "sacct", f"echo '41|COMPLETED|0:0|{energy}'")
    assert launcher.measured_energy("41") is None


def test_a_job_without_a_record_yet_has_no_measurement(
    tmp_path: Path, launcher: SlurmLauncher
) -> None:
    _tool(tmp_path, "sacct", "exit 0")
    assert launcher.measured_energy("41") is None


@pytest.mark.parametrize(
    ("gres", "gpus"),
    [
        ("(null)", 0),
        ("gpu:4", 4),
        ("gpu:a100:4(S:0-1)", 4),
        ("gpu:a100:2,gpu:v100:2", 4),
        ("mps:100,gpu:1", 1),
    ],
)
def test_gpus_in_a_nodes_gres(gres: str, gpus: int) -> None:
    assert gres_gpus(gres) == gpus


def test_settings_claiming_more_gpus_than_sinfo_shows_are_refused(
    tmp_path: Path, launcher: SlurmLauncher
) -> None:
    _tool(tmp_path, "sinfo", "echo 'node1 gpu:a100:4(S:0-1)'; echo 'node2 gpu:a100:2'")
    launcher.check_capacity(6)
    with pytest.raises(LaunchError, match=r"gpus = 8, but sinfo shows 6 GPU\(s\) in partition gpu"):
        launcher.check_capacity(8)
    # a [[targets]] slurm target's number is its own, not the partition's
    with pytest.raises(LaunchError, match=r"^\[\[targets\]\] hpc: gpus = 8, but sinfo shows 6"):
        launcher.check_capacity(8, "[[targets]] hpc:")


def test_the_slurm_launcher_refuses_a_simulated_clock(
    tmp_path: Path, launcher: SlurmLauncher
) -> None:
    from gridwait.clock import ManualClock
    from gridwait.config import Settings
    from gridwait.grid.profile import ProfileProvider
    from gridwait.scheduler.service import Service
    from gridwait.store.engine import Store
    from tests.conftest import T0

    _tool(tmp_path, "sinfo", "exit 1")  # never reached: the clock is refused first
    clock = ManualClock(T0)
    settings = Settings(db=tmp_path / "c.db", launcher="slurm", slurm=launcher.settings)
    service = Service(settings, clock, Store(settings.db, clock), ProfileProvider(), launcher)
    with pytest.raises(ConfigError, match="needs the system clock, not manual"):
        service.start()


def test_a_job_inherits_no_secret_but_its_runs_token(
    tmp_path: Path, launcher: SlurmLauncher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridwait.workers.launchers.base import RunRequest

    _tool(tmp_path, "sbatch", 'export -p > "$0.env"; echo 77')
    for name in ("ELECTRICITYMAPS_API_TOKEN", "GRIDWAIT_TOKEN", "WATTTIME_PASSWORD"):
        monkeypatch.setenv(name, "s3cret")
    monkeypatch.setenv("GRIDWAIT_DATA_PATH", "kept")
    request = RunRequest(5, 2, [], tmp_path / "run-5.log", {"GRIDWAIT_RUN_TOKEN": "gwr_x"})
    assert launcher.start(request) == "77"
    env = (tmp_path / "sbatch.env").read_text()
    assert "s3cret" not in env
    assert "GRIDWAIT_RUN_TOKEN='gwr_x'" in env and "GRIDWAIT_DATA_PATH='kept'" in env
    script = (tmp_path / "run-5.sbatch").read_text()
    assert "gwr_x" not in script and "-m gridwait.workers run --run-id 5" in script


def test_one_squeue_answers_for_every_run_and_sacct_only_for_a_forgotten_one(
    tmp_path: Path, launcher: SlurmLauncher
) -> None:
    calls = tmp_path / "calls"
    jobs = [
        {**_SQUEUE_JOB, "job_id": 41},
        {**_SQUEUE_JOB, "job_id": 42, "job_state": "COMPLETED", "end_time": 1796487390},
    ]
    _tool(tmp_path, "squeue", f"echo squeue >> {calls}; echo '{json.dumps({'jobs': jobs})}'")
    _tool(tmp_path, "sacct", f"echo sacct \"$@\" >> {calls}; echo '43|FAILED|3:0|'")
    statuses = launcher.poll_all(["41", "42", "43"])
    assert statuses == {
        "41": Status(LaunchState.RUNNING),
        "42": Status(LaunchState.EXITED, 0),
        "43": Status(LaunchState.EXITED, 3),
    }
    asked = calls.read_text().splitlines()
    assert len(asked) == 2 and asked[0] == "squeue"  # once for all three
    assert asked[1].startswith("sacct") and asked[1].endswith("--jobs=43")  # only the forgotten
    assert launcher.poll("42") == Status(LaunchState.EXITED, 0)  # the same answer, one by one
    assert launcher.poll_all([]) == {} and calls.read_text().count("squeue") == 2


# squeue --json of Slurm 22.05.8, trimmed (see tests/workers/test_slurm_cli.py)
_SQUEUE_JOB = {
    "job_id": 0,
    "name": "gridwait-1",
    "job_state": "RUNNING",
    "state_reason": "None",
    "eligible_time": 1796487380,
    "start_time": 1796487380,
    "end_time": 6091454616,
    "exit_code": 0,
}
