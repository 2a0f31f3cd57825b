"""The risk rule's one setting on the six DACF regions (2021 H2, weekday ad hoc ML jobs with
next-workday deadlines): the corrected day-ahead forecast planned at several risk
quantiles, as a share of the oracle's saving, with the share of jobs whose plan emitted
more than running at submission, and the live corrector's cost per poll.

    python benchmarks/risk_rule.py [--regions DE,SE] [--quantiles 0.5,0.7]   -> prints JSON
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backtests import H2, TRACES, more_than_now_pct, row  # benchmarks/backtests.py

from gridwait.clock import ManualClock
from gridwait.grid.chain import to_rows
from gridwait.grid.corrector import CorrectorSettings
from gridwait.grid.live_correction import correct_live
from gridwait.grid.trace import TraceProvider, load_trace
from gridwait.scheduler.simulate import SimOptions, backtest
from gridwait.scheduler.workload import generate
from gridwait.store.engine import Store
from gridwait.store.intensity_history import insert_new_points

REGIONS = ("CISO", "DE", "ERCO", "ISNE", "PJM", "SE")
COLUMN = "column:carbon_from_src_forecasts"
H = timedelta(hours=1)


def quantile_table(regions: list[str], quantiles: list[float]) -> dict[str, object]:
    jobs = generate("weekday-ml", *H2, seed=2)
    table: dict[str, object] = {}
    for region in regions:
        trace = load_trace(TRACES / "dacf" / f"{region}_2021H2_forecast_and_actual.csv")
        cells: dict[str, object] = {}
        result = backtest(trace, jobs, COLUMN, 0, SimOptions(), per_job=True)
        cells["raw"] = {**row(result), "more_than_now_pct": more_than_now_pct(result)}
        for q in quantiles:
            options = SimOptions(corrector=CorrectorSettings(risk_quantile=q))
            result = backtest(trace, jobs, f"corrected:{COLUMN}", 0, options, per_job=True)
            cells[f"corrected q={q:g}"] = {
                **row(result),
                "more_than_now_pct": more_than_now_pct(result),
            }
        table[region] = cells
    means: dict[str, object] = {}
    for name in cells:
        shares = [c[name]["share_of_oracle_pct"] for c in table.values()]  # type: ignore[index]
        means[f"mean_share {name}"] = round(sum(shares) / len(shares), 1)
    return table | means


def live_cost(region: str = "DE") -> dict[str, object]:
    """One poll's `correct_live` on a store holding 29 days of hourly polled forecasts (the
    fit's window: 28): wall time (time.perf_counter) of the first poll, which also fetches
    the window's actuals, and the mean of 10 later ones."""
    trace = load_trace(TRACES / "dacf" / f"{region}_2021H2_forecast_and_actual.csv")
    source = TraceProvider(trace, COLUMN, horizon=timedelta(hours=72), zone=region)
    now = datetime(2021, 9, 1, 10, 30, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "lab.db", ManualClock(now))
        at = now - timedelta(days=29)
        while at < now:  # what an hourly poll stores
            with store.write() as session:
                insert_new_points(session, to_rows(source.forecast(region, at, at + 72 * H), at))
            at += H
        raw = source.forecast(region, now, now + 72 * H)
        began = time.perf_counter()
        correct_live(store, source, raw, now)  # the first poll also fetches 28 d of actuals
        first = time.perf_counter() - began
        began = time.perf_counter()
        polls = 10
        for _ in range(polls):
            fixed = correct_live(store, source, raw, now)
        each = (time.perf_counter() - began) / polls
    return {
        "region": region,
        "stored_forecasts": 29 * 24,
        "first_poll_ms": round(1000 * first, 1),
        "later_poll_ms": round(1000 * each, 1),
        "correction": fixed.correction,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", default=",".join(REGIONS))
    parser.add_argument("--quantiles", default="0.5,0.6,0.7,0.8")
    parser.add_argument("--live-only", action="store_true", help="only the live poll's cost")
    args = parser.parse_args()
    began = time.perf_counter()
    out: dict[str, object] = {"live_correction_cost": live_cost()}
    if not args.live_only:
        quantiles = [float(q) for q in args.quantiles.split(",")]
        out["dacf_2021h2_risk_quantile"] = quantile_table(args.regions.split(","), quantiles)
    out["total_runtime_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
