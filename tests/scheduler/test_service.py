"""The service end to end on this CPU: real worker processes fine-tuning a tiny BERT,
a simulated clock, a real trace; and the failures it must survive."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gridwait.clock import parse_clock
from tests.conftest import SHARED, Cli, write_spec
from tests.workers.conftest import DEMO

pytestmark = pytest.mark.slow
DACF_DE = SHARED / "data" / "traces" / "dacf" / "DE_2021H2_forecast_and_actual.csv"


def settings_file(tmp_path: Path, trace: Path, **scheduler: object) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in scheduler.items())
    path = tmp_path / "gridwait.toml"
    path.write_text(
        f'[grid]\nprovider = "trace"\ntrace = "{trace}"\nforecast = "perfect"\ntrace_align = "now"\nzone = "DE"\n'
        f"[scheduler]\ngpus = 0\ncpu_slots = 1\n{extra}[energy]\nsample_seconds = 1\n"
    )
    return path


def spec(
    tmp_path: Path, name: str, model: Path, deadline: str, limit: int = 48, **extra: object
) -> Path:
    more = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
    return write_spec(
        tmp_path,
        f'name = "{name}"\nmodel = "{model}"\ndeadline = "{deadline}"\nbatch_size = 16\nmax_length = 32\n'
        f'{more}[dataset]\npath = "{DEMO}"\nlimit = {limit}\n',
        name=f"{name}.toml",
    )


def service(
    env_path: Path, *args: str, fault: str | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """`gridwait run ARGS` in a subprocess; with `fault`, through tests/scheduler/faults.py."""
    command = ["-m", "gridwait"] if fault is None else ["-m", "tests.scheduler.faults", fault, "--"]
    return subprocess.run(
        [sys.executable, *command, "run", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql).fetchall()]


def test_three_jobs_end_to_end(cli: Cli, env: Path, tmp_path: Path, tiny_model: Path) -> None:
    settings_file(tmp_path, DACF_DE)
    specs = [
        spec(tmp_path, "a", tiny_model, "30h"),
        spec(tmp_path, "b", tiny_model, "40h", limit=64),
        spec(tmp_path, "c", tiny_model, "50h", limit=32),
    ]
    for s in specs:
        assert cli("submit", s).code == 0
    done = service(env, "--until-idle", "--clock", "sim:3600", "--timeout", "240")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "planned" in done.stderr and "succeeded" in done.stderr  # readable logs
    runs = rows(env, "SELECT * FROM runs ORDER BY id")
    assert [r["state"] for r in runs] == ["succeeded"] * 3
    for r in runs:
        assert r["energy_facility_j"] > 0 and r["cpu_method"] == "estimated"
        assert (
            r["emissions_g"] > 0
            and not r["emissions_provisional"]
            and r["intensity_source"] == "actual trace"
        )
        assert r["counterfactual_g"] is not None and r["saving_g"] is not None
        assert r["forecast_g"] is not None and r["tokens_padded"] > 0
    samples = rows(env, "SELECT COUNT(*) AS n FROM energy_samples")[0]["n"]
    assert samples >= 3 * 2
    jobs = rows(env, "SELECT state FROM jobs")
    assert [j["state"] for j in jobs] == ["succeeded"] * 3
    estimate = json.loads(cli("estimate", specs[0], "--json").out)
    assert estimate["level"] == "same-model" and "calibrated on 3 run(s)" in estimate["method"]


def flat_trace(tmp_path: Path, value: float = 300.0) -> Path:
    """A constant intensity for three weeks: every start costs the same, so the planner
    starts jobs at once (ties go to the earliest start)."""
    path = tmp_path / "flat.csv"
    start = datetime(2021, 3, 1, tzinfo=UTC)
    lines = ["time,intensity"] + [
        f"{(start + timedelta(hours=h)).isoformat()},{value}" for h in range(24 * 21)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for(db: Path, sql: str, seconds: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if db.exists():
            try:
                found = rows(db, sql)
            except sqlite3.OperationalError:
                found = []
            if found:
                return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {sql}")


def test_a_killed_worker_is_settled_and_its_partial_energy_kept(
    cli: Cli, env: Path, tmp_path: Path, tiny_model: Path
) -> None:
    settings_file(tmp_path, flat_trace(tmp_path))
    assert cli("submit", spec(tmp_path, "k", tiny_model, "12h", limit=480, epochs=2)).code == 0
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gridwait",
            "run",
            "--until-idle",
            "--clock",
            "sim:60",
            "--timeout",
            "300",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        [running] = wait_for(
            env,
            "SELECT r.id, r.handle FROM runs r WHERE r.state = 'running' AND r.handle IS NOT NULL"
            " AND (SELECT COUNT(*) FROM energy_samples s WHERE s.run_id = r.id) >= 3",
        )
        os.kill(int(running["handle"]), signal.SIGKILL)  # the local launcher's handle: a PID
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    runs = rows(env, "SELECT * FROM runs ORDER BY id")
    lost, retried = runs
    assert lost["state"] == "lost" and "without reporting" in lost["error"]
    kept = rows(env, f"SELECT COUNT(*) AS n FROM energy_samples WHERE run_id = {lost['id']}")[0][
        "n"
    ]
    assert (
        kept >= 3 and lost["emissions_g"] is not None and lost["emissions_g"] > 0
    )  # partial energy accounted
    assert retried["state"] == "succeeded" and retried["attempt"] == 2
    assert rows(env, "SELECT state FROM jobs")[0]["state"] == "succeeded"
    assert "lost" in err


def test_a_service_killed_between_claim_and_launch_runs_the_job_exactly_once(
    cli: Cli, env: Path, tmp_path: Path, tiny_model: Path
) -> None:
    settings_file(tmp_path, flat_trace(tmp_path), lease_seconds=2)
    # no retries: a run whose worker never started must not spend one (nor fail the job)
    assert cli("submit", spec(tmp_path, "once", tiny_model, "12h", max_retries=0)).code == 0
    # One simulated time line for both processes, as after a real restart: a fresh
    # `sim:60` would start the second service behind the lease the first one wrote.
    timeline = parse_clock("sim:60").describe()
    crashed = service(
        env,
        "--until-idle",
        "--clock",
        timeline,
        "--timeout",
        "120",
        fault="after-claim",
    )
    assert crashed.returncode == 137, crashed.stderr[-2000:]
    [claimed] = rows(env, "SELECT * FROM runs")
    assert claimed["state"] == "claimed" and claimed["started_at"] is None
    done = service(env, "--until-idle", "--clock", timeline, "--timeout", "200")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = rows(env, "SELECT * FROM runs ORDER BY id")
    assert [r["state"] for r in runs] == ["lost", "succeeded"]
    assert "lease lapsed" in runs[0]["error"]
    assert rows(env, "SELECT attempts FROM jobs")[0]["attempts"] == 1  # the lost one is no attempt
    reasons = [r["reason"] for r in rows(env, "SELECT reason FROM job_events ORDER BY id")]
    assert any("never started" in (r or "") and "not counted" in (r or "") for r in reasons)
    assert sum(r["started_at"] is not None for r in runs) == 1  # the fine-tune ran exactly once
    assert rows(env, "SELECT state FROM jobs")[0]["state"] == "succeeded"
