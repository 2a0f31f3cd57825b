"""Planner speed: 10,000 queued jobs on 864 slots (72 h at 5 minutes) and 64 GPUs.

    python benchmarks/planner.py [--jobs 10000] [--gpus 64] [--json]

Two queues, both against 72 h of the real German DACF day-ahead forecast (hourly):
- `lab`: fine-tunes of 5 minutes to 3 hours (log-normal, median 10 minutes), 1 GPU for
  most, up to 4; deadlines 2 to 72 hours away; a quarter interruptible. 10,000 such jobs
  ask for about 80 % of what 64 GPUs give in 72 hours.
- `overloaded`: 10 minutes to 6 hours, 0 to 4 GPUs, deadlines 1 to 72 hours: about five
  times what 64 GPUs can do in 72 hours, so most jobs are late (the slow path)."""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from datetime import timedelta

from shared import SHARED  # benchmarks/shared.py

from gridwait.grid.trace import TraceProvider, load_trace
from gridwait.scheduler.planner import PlanJob, PlanOptions, plan

TRACE = SHARED / "data" / "traces" / "dacf" / "DE_2021H2_forecast_and_actual.csv"


def jobs(n: int, now, seed: int = 0) -> list[PlanJob]:  # type: ignore[no-untyped-def]
    """The overloaded queue."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        duration = rng.uniform(600, 6 * 3600)
        deadline = now + timedelta(hours=rng.uniform(1, 72))
        out.append(
            PlanJob(
                i,
                duration,
                rng.uniform(100, 2000),
                rng.choice([0, 1, 1, 2, 4]),
                now,
                deadline,
                rng.random() < 0.25,
            )
        )
    return out


def lab_jobs(n: int, now, seed: int = 0) -> list[PlanJob]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        duration = min(3 * 3600, max(300, rng.lognormvariate(math.log(600), 1.0)))
        gpus = rng.choices([1, 2, 4], weights=[80, 15, 5])[0]
        deadline = now + timedelta(hours=rng.uniform(2, 72))
        out.append(
            PlanJob(i, duration, 350.0 * gpus + 150, gpus, now, deadline, rng.random() < 0.25)
        )
    return out


def measure(queue: list[PlanJob], now, forecast, gpus: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(5):
        started = time.perf_counter()
        placements = plan(now, queue, forecast, gpus, options=PlanOptions())
        times.append(time.perf_counter() - started)
    run_now = sum(p.run_now_g for p in placements)
    return {
        "gpu_hours_asked": round(sum(j.duration_s * j.gpus for j in queue) / 3600),
        "seconds": round(min(times), 3),
        "seconds_median": round(sorted(times)[len(times) // 2], 3),
        "late": sum(p.late for p in placements),
        "saving_pct": round(100 * sum(p.saving_g for p in placements) / run_now, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--gpus", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    trace = load_trace(TRACE)
    provider = TraceProvider(trace, "column:carbon_from_src_forecasts", horizon=timedelta(hours=72))
    now = trace.start + timedelta(days=30, minutes=7)
    forecast = provider.forecast("DE", now, now + timedelta(hours=72))
    lab = measure(lab_jobs(args.jobs, now), now, forecast, args.gpus)
    overloaded = measure(jobs(args.jobs, now), now, forecast, args.gpus)
    result = {
        "seconds": lab["seconds"],
        "jobs": args.jobs,
        "slots": 864,
        "gpus": args.gpus,
        "lab": lab,
        "overloaded": overloaded,
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
