"""The backtest tables: savings of the planner on real traces.

    python benchmarks/backtests.py [--quick]   -> prints JSON
    python benchmarks/backtests.py --gb-interruptible   -> one case, timed (goal: <= 30 s)
    python benchmarks/backtests.py --dacf   -> only table 2
    python benchmarks/backtests.py --lwa-corrected   -> only table 1's noise rows, corrected

1. Let's Wait Awhile's 2020 traces (Germany, Great Britain, France): weekday ad hoc
   fine-tunes with next-workday deadlines (~3,400 a year), forecasts perfect,
   noise:0.05 and noise:0.10, jobs not interruptible and all interruptible.
2. The six DACF regions (2021 H2): the real day-ahead forecast (column
   carbon_from_src_forecasts, issued day-ahead: see grid/trace.py), raw and corrected
   from its own errors (corrected:column:..., grid/corrector.py: stacked, and error
   persistence), against the actuals published day-ahead (the ceiling of a day-ahead
   forecast) and a perfect one, as a share of the oracle's saving, with the share of jobs
   whose plan emitted more than running at submission would have.
3. One capacity-limited run (16 GPUs) with its deadline misses.

`--gb-interruptible`: only the year of weekday jobs, ALL interruptible, on the GB 2020
trace (perfect forecast and noise:0.10), with the wall time of each backtest.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

from shared import SHARED  # benchmarks/shared.py

from gridwait.grid.corrector import CorrectorSettings
from gridwait.grid.trace import load_trace
from gridwait.scheduler.simulate import SimOptions, backtest
from gridwait.scheduler.workload import generate

TRACES = SHARED / "data" / "traces"
YEAR = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC))
H2 = (datetime(2021, 7, 1, tzinfo=UTC), datetime(2021, 12, 28, tzinfo=UTC))


def row(result: dict[str, object]) -> dict[str, object]:
    savings = result["savings_pct"]
    assert isinstance(savings, dict)
    return {
        "jobs": result["jobs"],
        "saving_pct": round(savings["policy"], 2),
        "oracle_saving_pct": round(savings["oracle"], 2),
        "share_of_oracle_pct": None
        if result["share_of_oracle_saving_pct"] is None
        else round(float(result["share_of_oracle_saving_pct"]), 1),  # type: ignore[arg-type]
        "deadline_misses": result["deadline_misses"],
        "late_jobs": result["late_jobs"],
        "runtime_s": result["runtime_s"],
    }


def more_than_now_pct(result: dict[str, object]) -> float:
    """Share of jobs whose plan emitted more than running at submission, %."""
    jobs = result["per_job"]
    assert isinstance(jobs, list)
    worse = sum(j["policy_g"] > j["run_now_g"] * (1 + 1e-9) for j in jobs)
    return round(100 * worse / len(jobs), 1)


def dacf_table() -> dict[str, object]:
    """Per region: the raw day-ahead column, corrected (the default stacked method and the
    error-persistence one), the ACTUALS published day-ahead (the ceiling of any forecast
    that is only published day-ahead: beyond its reach the planner has the trailing
    profile), and perfect (everything known, the oracle's own knowledge)."""
    table: dict[str, object] = {}
    h2_jobs = generate("weekday-ml", *H2, seed=2)
    column = "column:carbon_from_src_forecasts"
    persistence = SimOptions(corrector=CorrectorSettings(method="persistence"))
    for region in ("CISO", "DE", "ERCO", "ISNE", "PJM", "SE"):
        trace = load_trace(TRACES / "dacf" / f"{region}_2021H2_forecast_and_actual.csv")
        cells = {}
        for name, mode, options in (
            ("day_ahead", column, SimOptions()),
            ("corrected", f"corrected:{column}", SimOptions()),
            ("corrected_persistence", f"corrected:{column}", persistence),
        ):
            result = backtest(trace, h2_jobs, mode, 0, options, per_job=True)
            cells[name] = {**row(result), "more_than_now_pct": more_than_now_pct(result)}
        published = replace(trace, columns={**trace.columns, "actual": trace.actual})
        cells["perfect_day_ahead"] = row(
            backtest(published, h2_jobs, "column:actual", 0, SimOptions())
        )
        cells["perfect"] = row(backtest(trace, h2_jobs, "perfect", 0, SimOptions()))
        table[region] = cells
    regions = list(table.values())
    for name in ("day_ahead", "corrected", "corrected_persistence", "perfect_day_ahead"):
        shares = [cells[name]["share_of_oracle_pct"] for cells in regions]  # type: ignore[index]
        table[f"mean_share_{name}_pct"] = round(sum(shares) / len(shares), 1)
    return table


def lwa_corrected() -> dict[str, object]:
    jobs = generate("weekday-ml", *YEAR, seed=1)
    table: dict[str, object] = {}
    for name in ("ger_ci.csv", "gb_ci.csv", "fr_ci.csv"):
        trace = load_trace(TRACES / "lets-wait-awhile" / name)
        for mode in ("noise:0.05", "noise:0.10"):
            for corrected in ("", "corrected:"):
                result = backtest(trace, jobs, corrected + mode, 0, SimOptions())
                table[f"{name[:-7]} {corrected}{mode} not interruptible"] = row(result)
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one trace, two modes")
    parser.add_argument(
        "--gb-interruptible", action="store_true", help="only GB 2020, all interruptible"
    )
    parser.add_argument("--dacf", action="store_true", help="only the DACF table")
    parser.add_argument(
        "--lwa-corrected", action="store_true", help="only LWA noise, raw and corrected"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    out: dict[str, object] = {}
    if args.dacf or args.lwa_corrected:
        if args.dacf:
            out["dacf_2021h2_day_ahead_corrected_perfect"] = dacf_table()
        if args.lwa_corrected:
            out["lets_wait_awhile_2020_noise_corrected"] = lwa_corrected()
        out["total_runtime_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(out, indent=2))
        return
    jobs = generate("weekday-ml", *YEAR, seed=1)
    if args.gb_interruptible:
        trace = load_trace(TRACES / "lets-wait-awhile" / "gb_ci.csv")
        queue = [replace(j, interruptible=True) for j in jobs]
        for mode in ("perfect", "noise:0.10"):
            out[f"gb {mode} interruptible"] = row(backtest(trace, queue, mode, 0, SimOptions()))
        out["total_runtime_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(out, indent=2))
        return
    lwa = {}
    for name in ("ger_ci.csv", "gb_ci.csv", "fr_ci.csv")[: 1 if args.quick else 3]:
        trace = load_trace(TRACES / "lets-wait-awhile" / name)
        for mode in ("perfect", "noise:0.05", "noise:0.10")[: 2 if args.quick else 3]:
            for interruptible in (False, True):
                queue = [replace(j, interruptible=interruptible) for j in jobs]
                result = backtest(trace, queue, mode, 0, SimOptions())
                lwa[
                    f"{name[:-7]} {mode} {'interruptible' if interruptible else 'not interruptible'}"
                ] = row(result)
    out["lets_wait_awhile_2020_weekday_ml"] = lwa
    if not args.quick:
        out["dacf_2021h2_day_ahead_corrected_perfect"] = dacf_table()
        trace = load_trace(TRACES / "lets-wait-awhile" / "ger_ci.csv")
        capped = backtest(trace, jobs, "noise:0.05", 0, SimOptions(capacity=16))
        out["ger_2020_noise_0.05_16_gpus"] = row(capped)
    out["total_runtime_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
