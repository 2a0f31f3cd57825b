"""Spatial shifting: where+when against when-only against run-now on the DACF traces.

    python benchmarks/spatial.py               -> CISO + ERCO, prints JSON
    python benchmarks/spatial.py --all-pairs   -> also every pair of the six regions
                                                  (day-ahead forecast, unlimited GPUs)

The same weekday-ml workload as the backtest tables (2021 H2, seed 2); each job's home
alternates between the two targets (see gridwait/scheduler/spatial.py). Forecasts: the
real day-ahead column (carbon_from_src_forecasts, known from 12:00 UTC the day before, see
grid/trace.py) and a perfect one. Capacity: unlimited, and 4 GPUs per target (the
workload's largest job), where the cleaner zone cannot take every job.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from datetime import UTC, datetime

from shared import SHARED  # benchmarks/shared.py

from gridwait.grid.trace import Trace, load_trace
from gridwait.scheduler.simulate import SimOptions, SimTarget
from gridwait.scheduler.spatial import backtest_where
from gridwait.scheduler.workload import generate

DACF = SHARED / "data" / "traces" / "dacf"
H2 = (datetime(2021, 7, 1, tzinfo=UTC), datetime(2021, 12, 28, tzinfo=UTC))
REGIONS = ("CISO", "DE", "ERCO", "ISNE", "PJM", "SE")
DAY_AHEAD = "column:carbon_from_src_forecasts"


def row(result: dict[str, object]) -> dict[str, object]:
    savings = result["savings_pct"]
    assert isinstance(savings, dict)
    return {
        "jobs": result["jobs"],
        "emissions_kg": {k: round(v / 1000, 2) for k, v in result["emissions_g"].items()},  # type: ignore[attr-defined]
        "saving_vs_run_now_pct": {k: round(v, 2) for k, v in savings.items()},
        "where_when_over_when_only_pct": round(float(result["where_when_over_when_only_pct"]), 2),  # type: ignore[arg-type]
        "jobs_run_at": result["jobs_run_at"],
        "deadline_misses": result["deadline_misses"],
        "runtime_s": result["runtime_s"],
    }


def pair(
    traces: dict[str, Trace], a: str, b: str, capacity: int | None, mode: str
) -> dict[str, object]:
    jobs = generate("weekday-ml", *H2, seed=2)
    targets = [SimTarget(a, traces[a], capacity), SimTarget(b, traces[b], capacity)]
    return row(backtest_where(targets, jobs, mode, 0, SimOptions()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--all-pairs", action="store_true", help="every pair, day-ahead")
    args = parser.parse_args()
    began = time.perf_counter()
    traces = {r: load_trace(DACF / f"{r}_2021H2_forecast_and_actual.csv") for r in REGIONS}
    out: dict[str, object] = {}
    for capacity in (None, 4):
        for name, mode in (("day_ahead", DAY_AHEAD), ("perfect", "perfect")):
            gpus = "unlimited" if capacity is None else f"{capacity}_gpus_each"
            out[f"ERCO+CISO {name} {gpus}"] = pair(traces, "ERCO", "CISO", capacity, mode)
    if args.all_pairs:
        table = {
            f"{a}+{b}": pair(traces, a, b, None, DAY_AHEAD)["where_when_over_when_only_pct"]
            for a, b in itertools.combinations(REGIONS, 2)
        }
        out["all_pairs_day_ahead_unlimited_where_when_over_when_only_pct"] = table
    out["total_runtime_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
