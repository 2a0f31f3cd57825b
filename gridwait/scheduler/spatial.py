"""The several-zone backtest: where+when against when-only against run-now.

Every job has a home target (homes alternate between the targets in submission order, so
each zone gets its share of the same workload). Three policies run the identical jobs:

- `run_now`: each job starts at submission at home;
- `when_only`: the planner chooses when, each job confined to its home target;
- `where_when`: the planner chooses where and when over every target.

All three are accounted against the ACTUAL trace of the zone where each job ran; the
planner sees only the forecast known at the time (the trace's forecast mode). `oracle` is
where+when with perfect knowledge of every trace.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from gridwait.errors import TraceError
from gridwait.scheduler.simulate import (
    Outcome,
    SimOptions,
    SimTarget,
    run_now,
    simulate_where,
)
from gridwait.scheduler.workload import SimJob
from gridwait.units import J_PER_KWH


def alternate_homes(targets: Sequence[SimTarget], jobs: Sequence[SimJob]) -> dict[str, str]:
    """Job id -> home target: the targets in turn, in submission order."""
    order = sorted(jobs, key=lambda j: (j.submit, j.id))
    return {j.id: targets[i % len(targets)].name for i, j in enumerate(order)}


def fit_to_targets(
    targets: Sequence[SimTarget], jobs: Sequence[SimJob], homes: Mapping[str, str]
) -> tuple[list[SimJob], int]:
    """The jobs every trace can host (submitted after each starts, done 12 h before each
    ends). Refuses jobs whose home can never lend their GPUs."""
    capacity = {t.name: t.capacity for t in targets}
    for j in jobs:
        lent = capacity[homes[j.id]]
        if lent is not None and j.gpus > lent:
            raise TraceError(
                f"job {j.id} needs {j.gpus} GPUs but its home {homes[j.id]} lends {lent}"
            )
    first = max(t.trace.start for t in targets)
    last = min(t.trace.end for t in targets) - timedelta(hours=12)
    kept = [
        j
        for j in jobs
        if j.submit >= first
        and j.deadline <= last
        and j.submit + timedelta(seconds=j.duration_s) <= last
    ]
    return kept, len(jobs) - len(kept)


def run_now_at_home(
    targets: Sequence[SimTarget], jobs: Sequence[SimJob], homes: Mapping[str, str]
) -> list[Outcome]:
    by_name = {t.name: t for t in targets}
    out = []
    for job in jobs:
        [outcome] = run_now(by_name[homes[job.id]].trace, [job])
        outcome.target = homes[job.id]
        out.append(outcome)
    return out


def backtest_where(
    targets: Sequence[SimTarget],
    jobs: Sequence[SimJob],
    mode: str,
    seed: int,
    options: SimOptions,
) -> dict[str, object]:
    """The three policies (and the oracle) on the same jobs, as a JSON-ready dict."""
    if len({t.name for t in targets}) != len(targets):
        raise TraceError("two targets share a name: name each zone once")
    started = time.perf_counter()
    homes = alternate_homes(targets, jobs)
    kept, skipped = fit_to_targets(targets, jobs, homes)
    if not kept:
        raise TraceError("no job falls inside every trace")
    runs = {
        "run_now": run_now_at_home(targets, kept, homes),
        "when_only": simulate_where(targets, kept, mode, seed, options, homes=homes),
        "where_when": simulate_where(targets, kept, mode, seed, options),
        "oracle_where_when": simulate_where(targets, kept, mode, seed, options, oracle=True),
    }
    grams = {name: sum(o.grams for o in outcomes) for name, outcomes in runs.items()}
    base = grams["run_now"]
    return {
        "jobs": len(kept),
        "skipped_jobs": skipped,
        "targets": {
            t.name: {
                "trace": t.trace.name,
                "capacity_gpus": t.capacity,
                "homes": _homed(t, kept, homes),
            }
            for t in targets
        },
        "forecast": mode,
        "seed": seed,
        "energy_kwh": sum(o.energy_j for o in runs["where_when"]) / J_PER_KWH,
        "emissions_g": grams,
        "savings_pct": {
            name: 100 * (1 - g / base) for name, g in grams.items() if name != "run_now"
        },
        "where_when_over_when_only_pct": 100 * (1 - grams["where_when"] / grams["when_only"]),
        "jobs_run_at": {
            t.name: sum(o.target == t.name for o in runs["where_when"]) for t in targets
        },
        "deadline_misses": {name: sum(o.missed for o in runs[name]) for name in runs},
        "runtime_s": round(time.perf_counter() - started, 3),
    }


def _homed(target: SimTarget, jobs: Sequence[SimJob], homes: Mapping[str, str]) -> int:
    return sum(homes[j.id] == target.name for j in jobs)
