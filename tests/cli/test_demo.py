"""`gridwait demo` (what `make demo` runs): the main job end to end, offline."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_real_fine_tunes_and_reports(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWAIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "gridwait", "demo", "--keep", str(keep)],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "history" in done.stdout and "report by project" in done.stdout and "avoided" in done.stdout
    )
    # the history table shows every run (a regression: it once showed "no runs yet")
    assert "no runs yet" not in done.stdout and "showing 0 of" not in done.stderr
    assert done.stdout.count("products-resumable") >= 2
    footprint = next(line for line in done.stdout.splitlines() if "whole footprint" in line)
    assert "operational" in footprint and "embodied" in footprint and "water" in footprint
    assert "amortised" in footprint and "% of the total" in footprint
    with sqlite3.connect(keep / "gridwait.db") as conn:
        runs = conn.execute(
            "SELECT state, energy_facility_j, emissions_g, counterfactual_g, cpu_method FROM runs"
        ).fetchall()
        footprints = conn.execute(
            "SELECT embodied_g, embodied_method, water_l, water_grid_l FROM runs"
        ).fetchall()
        jobs = conn.execute("SELECT state, interruptible FROM jobs").fetchall()
    assert len(jobs) == 4 and {s for s, _ in jobs} == {"succeeded"} and any(i for _, i in jobs)
    assert len(runs) >= 4 and all(r[0] in ("succeeded", "suspended") for r in runs)
    assert all(r[1] > 0 and r[2] > 0 and r[3] is not None and r[4] == "estimated" for r in runs)
    # every run held this machine for some seconds and used energy; US-CAL-CISO is a US
    # zone, so the grid's water is counted beside the on-site water
    assert all(
        g > 0 and how == "amortised" and w > 0 and grid > 0 for g, how, w, grid in footprints
    )
    again = subprocess.run(
        [sys.executable, "-m", "gridwait", "demo", "--keep", str(keep)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2 and "is not empty" in again.stderr
