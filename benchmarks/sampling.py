"""Sampling overhead: what the energy sampler costs a fine-tune.

    python benchmarks/sampling.py [--samples 200] [--period 5] [--rounds 6]
                                  [--ab-period 1] [--examples 320]   -> prints JSON

1. The cost of one sample in steady state: read every meter of a CPU run (process-tree
   CPU time, resident memory) and report the sample with its heartbeat (one transaction, through the in-process
   RunReporter a local worker uses).
   At one sample every `period` seconds, the overhead share is cost / period.
2. A real MiniLM fine-tune with the sampler thread running (every `--ab-period` s; 1 s is
   five times the default rate) and without it, interleaved over `--rounds`: best and median of each.
   A fine-tune of a few seconds on two busy cores varies by several percent from run to
   run, so this bounds the overhead only coarsely; part 1 measures it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from gridwait.app.deps import Deps
from gridwait.app.runs import LocalReporter
from gridwait.clock import SystemClock
from gridwait.config import Settings
from gridwait.estimators.tokens import DatasetRef
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.jobs import add_job, transition
from gridwait.store.runs import claim
from gridwait.workers.finetune import FinetuneJob, finetune
from gridwait.workers.meters import build_run_meter
from gridwait.workers.sampler import Sampler

DEMO = Path(__file__).resolve().parents[1] / "gridwait" / "data" / "demo_reviews.csv"


def running_run(folder: Path, clock: SystemClock) -> LocalReporter:
    """A started run on a fresh database, and the in-process reporter a worker uses."""
    deps = Deps(Settings(db=folder / "s.db", scheduler={"lease_seconds": 3600}), clock)
    spec = JobSpec.model_validate(
        {"name": "b", "model": "builtin:minilm", "deadline": "4h", "dataset": {"path": str(DEMO)}}
    )
    now = clock.now()
    with deps.store().write() as session:
        job = add_job(session, resolve(spec, now, DEMO.parent), 1, now)
        job.planned_start = now
        transition(session, job, JobState.PLANNED, now)
    with deps.store().write() as session:
        run = claim(session, job.id or 0, now, now, timedelta(hours=1), "", None)
        assert run is not None and run.id is not None
    reporter = LocalReporter(deps, run.id)
    reporter.start(str(os.getpid()), "bench")
    return reporter


def sample_cost(samples: int) -> float:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        reporter = running_run(Path(tmp), clock)
        meter = build_run_meter(os.getpid(), 0, clock, 10.0, 0.3725)
        sampler = Sampler(meter, reporter, clock, 3600, threading.Event())
        sampler.meter.start()
        for _ in range(5):
            sampler.sample()  # warm up: connection, imports
        began = time.perf_counter()
        for _ in range(samples):
            sampler.sample()
        return (time.perf_counter() - began) / samples


def fine_tune_seconds(with_sampler: bool, period_s: float, examples: int) -> float:
    clock = SystemClock()
    job = FinetuneJob(
        "builtin:minilm",
        "sequence-classification",
        DatasetRef(str(DEMO), limit=examples),
        64,
        16,
        1,
        5e-5,
        "length-grouped",
        1,
    )
    with tempfile.TemporaryDirectory() as tmp:
        reporter = running_run(Path(tmp), clock)
        meter = build_run_meter(os.getpid(), 0, clock, 10.0, 0.3725)
        sampler = Sampler(meter, reporter, clock, period_s, threading.Event())
        if with_sampler:
            sampler.start()
        began = time.perf_counter()
        finetune(job, Path(tmp) / "ckpt", threading.Event())
        seconds = time.perf_counter() - began
        if with_sampler:
            sampler.stop()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--period", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ab-period", type=float, default=1.0, help="sampler period in the A/B")
    parser.add_argument("--examples", type=int, default=320, help="fine-tune size in the A/B")
    args = parser.parse_args()
    cost = sample_cost(args.samples)
    fine_tune_seconds(False, args.ab_period, args.examples)  # warm the imports and caches
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(args.rounds):  # interleaved, so drift on the machine hits both alike
        for on in (i % 2 == 0, i % 2 == 1):
            times[on].append(fine_tune_seconds(on, args.ab_period, args.examples))
    without, with_sampler = min(times[False]), min(times[True])
    median_without, median_with = statistics.median(times[False]), statistics.median(times[True])
    print(
        json.dumps(
            {
                "sample_cost_ms": round(cost * 1000, 2),
                "period_s": args.period,
                "overhead_pct_at_period": round(100 * cost / args.period, 3),
                "finetune_s_without_sampler": round(without, 2),
                "ab_period_s": args.ab_period,
                "ab_examples": args.examples,
                "finetune_s_with_sampler": round(with_sampler, 2),
                "measured_difference_pct": round(100 * (with_sampler - without) / without, 2),
                "median_s_without": round(median_without, 2),
                "median_s_with": round(median_with, 2),
                "median_difference_pct": round(
                    100 * (median_with - median_without) / median_without, 2
                ),
                "rounds": args.rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
