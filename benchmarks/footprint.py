"""The whole footprint of the backtests: operational, embodied and water, run now against
planned, on the DACF SE and ERCO 2021 H2 traces (the real day-ahead forecast).

    python -m benchmarks.footprint [--quick]   -> prints JSON (from the checkout's root)

Jobs are the weekday fine-tunes of backtests.py (1-4 GPUs, PUE 1 as in the simulator).
Embodied carbon is each job's GPU-hours held (its segments, resume overheads included)
x the hardware table's A100 row (estimators/embodied.py). Water is its energy x the
default on-site WUE + the zone's grid water where one is known (ERCO: US average; SE:
none, so on-site only). Both rates are flat in time: deferring changes embodied carbon
and water only through the hours and energy a job adds (resume overheads), never
through when it runs. `--quick`: the first month only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from benchmarks.shared import SHARED
from gridwait.config import FootprintSettings
from gridwait.estimators.embodied import GPU_EMBODIED
from gridwait.estimators.water import grid_water, water
from gridwait.grid.trace import load_trace
from gridwait.scheduler.simulate import SimOptions, backtest
from gridwait.scheduler.workload import SimJob, generate
from gridwait.units import J_PER_KWH

TRACES = SHARED / "data" / "traces" / "dacf"
H2 = (datetime(2021, 7, 1, tzinfo=UTC), datetime(2021, 12, 28, tzinfo=UTC))
ZONES = {"SE": "SE", "ERCO": "US-TEX-ERCO"}
MODE = "column:carbon_from_src_forecasts"


def footprint(
    jobs: dict[str, SimJob], per_job: list[dict[str, Any]], key: str, zone: str
) -> dict[str, float]:
    """Operational, embodied, total gCO2e and water litres of one policy's outcomes."""
    rate = GPU_EMBODIED["A100-SXM"].g_per_hour
    settings = FootprintSettings()
    grid = grid_water(zone, settings.grid_water_l_per_kwh)
    operational = embodied = litres = 0.0
    for row in per_job:
        job = jobs[row["id"]]
        energy_j = (
            job.power_w * job.duration_s if key == "run_now_g" else row["energy_kwh"] * J_PER_KWH
        )
        held_h = energy_j / job.power_w / 3600  # constant power: joules / watts = seconds
        operational += row[key]
        embodied += rate * job.gpus * held_h
        litres += water(energy_j, energy_j, settings.wue_l_per_kwh, grid).litres
    total = operational + embodied
    return {
        "operational_g": round(operational),
        "embodied_g": round(embodied),
        "total_g": round(total),
        "embodied_share_pct": round(100 * embodied / total, 1),
        "water_l": round(litres),
    }


def change(now: dict[str, float], planned: dict[str, float]) -> dict[str, float]:
    """Percent change of each part when the planner defers the jobs."""
    return {
        k: round(100 * (planned[k] - now[k]) / now[k], 2)
        for k in ("operational_g", "embodied_g", "total_g", "water_l")
    }


def case(region: str, jobs: list[SimJob], interruptible: bool) -> dict[str, object]:
    trace = load_trace(TRACES / f"{region}_2021H2_forecast_and_actual.csv")
    queue = [replace(j, interruptible=interruptible) for j in jobs]
    result = backtest(trace, queue, MODE, 0, SimOptions(), per_job=True)
    rows = result["per_job"]
    assert isinstance(rows, list)
    by_id = {j.id: j for j in queue}
    zone = ZONES[region]
    now, planned = (
        footprint(by_id, rows, "run_now_g", zone),
        footprint(by_id, rows, "policy_g", zone),
    )
    return {
        "jobs": result["jobs"],
        "run_now": now,
        "planned": planned,
        "change_pct": change(now, planned),
        "water_method": water(1.0, 1.0, FootprintSettings().wue_l_per_kwh, grid_water(zone)).method,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="July 2021 only")
    args = parser.parse_args()
    began = time.perf_counter()
    end = datetime(2021, 8, 1, tzinfo=UTC) if args.quick else H2[1]
    jobs = generate("weekday-ml", H2[0], end, seed=2)
    out: dict[str, object] = {
        "embodied_g_per_gpu_hour": round(GPU_EMBODIED["A100-SXM"].g_per_hour, 2),
        "embodied_source": GPU_EMBODIED["A100-SXM"].source,
        "forecast": MODE,
    }
    for region in ZONES:
        for interruptible in (False, True):
            name = f"{region} {'interruptible' if interruptible else 'not interruptible'}"
            out[name] = case(region, jobs, interruptible)
    out["runtime_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
