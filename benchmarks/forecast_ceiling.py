"""How much of the oracle's saving a corrected day-ahead forecast could reach at most.

    python benchmarks/forecast_ceiling.py [--regions DE,SE] [--seed 2]   -> prints JSON

Issue 19 asks a forecast corrected from its own recent errors to reach a mean share of
the oracle's saving >= 90 % over the six DACF regions. This script measures the room
there is, on the workload of `backtests.py --dacf` (2021 H2, weekday ad hoc ML jobs,
next-workday deadlines, seed 2), with the day-ahead column issued honestly (day D from
12:00 UTC of D - 1):

1. `share`: the raw column, the corrected one (stacked), and yardsticks that read the
   future on purpose: `oracle:H:` gives the planner the ACTUALS for the first H hours
   after each issue, then the column (the most any corrector that saw H hours ahead
   perfectly could reach), and `published_actuals` the actuals for every published hour
   (the ceiling of anything published day-ahead).
2. `error_r2`: how much of the forecast error H hours ahead the latest known error
   explains (squared lag-H autocorrelation of actual - forecast), and the column's mean
   absolute percentage error: what a corrector fed recent errors has to work with.
3. `whole_column_visible`: the set-up of the issue's first-wave table, where the planner
   saw the whole column days before it was published; it reproduces the issue's numbers
   (raw mean 80.9 %, corrected 85.6 %) and shows where they came from.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from unittest import mock

import numpy as np
from shared import SHARED  # benchmarks/shared.py

from gridwait.grid.trace import Trace, TraceProvider, load_trace
from gridwait.scheduler.simulate import SimOptions, backtest
from gridwait.scheduler.workload import SimJob, generate

REGIONS = ("CISO", "DE", "ERCO", "ISNE", "PJM", "SE")
H2 = (datetime(2021, 7, 1, tzinfo=UTC), datetime(2021, 12, 28, tzinfo=UTC))
COLUMN = "column:carbon_from_src_forecasts"
ORACLE_HOURS = (3, 6, 12, 24)
LAGS = (1, 3, 6, 12, 24)


def share(trace: Trace, jobs: list[SimJob], mode: str) -> float:
    result = backtest(trace, jobs, mode, 0, SimOptions())
    value = result["share_of_oracle_saving_pct"]
    assert isinstance(value, float)
    return round(value, 1)


def error_r2(trace: Trace) -> dict[str, float]:
    error = trace.actual - trace.columns[COLUMN.removeprefix("column:")]
    out = {}
    for lag in LAGS:
        x, y = error[:-lag], error[lag:]
        ok = ~(np.isnan(x) | np.isnan(y))
        out[f"{lag}h"] = round(float(np.corrcoef(x[ok], y[ok])[0, 1]) ** 2, 2)
    mape = np.nanmean(np.abs(error) / trace.actual) * 100
    return {**out, "mape_pct": round(float(mape), 1)}


def region(name: str, seed: int) -> dict[str, object]:
    trace = load_trace(
        SHARED / "data" / "traces" / "dacf" / f"{name}_2021H2_forecast_and_actual.csv"
    )
    jobs = generate("weekday-ml", *H2, seed=seed)
    shares = {
        "raw": share(trace, jobs, COLUMN),
        "corrected": share(trace, jobs, f"corrected:{COLUMN}"),
    }
    for hours in ORACLE_HOURS:
        shares[f"oracle_{hours}h"] = share(trace, jobs, f"oracle:{hours}:{COLUMN}")
    # past any reach (36 h): every published hour is its actual
    shares["published_actuals"] = share(trace, jobs, f"oracle:48:{COLUMN}")
    # the first wave's set-up: a forecast issued at t reached a month (the horizon, 96 h)
    visible = {}
    with mock.patch.object(TraceProvider, "issued_until", lambda _, t: t + timedelta(days=30)):
        visible["raw"] = share(trace, jobs, COLUMN)
        visible["corrected"] = share(trace, jobs, f"corrected:{COLUMN}")
    return {"share": shares, "error_r2": error_r2(trace), "whole_column_visible": visible}


def means(table: dict[str, dict[str, object]], part: str) -> dict[str, float]:
    rows = [cells[part] for cells in table.values()]
    keys = rows[0].keys()  # type: ignore[attr-defined]
    return {k: round(sum(r[k] for r in rows) / len(rows), 1) for k in keys}  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--regions", default=",".join(REGIONS), help="comma-separated")
    parser.add_argument("--seed", type=int, default=2, help="seed of the workload")
    args = parser.parse_args()
    names = [r.strip().upper() for r in args.regions.split(",") if r.strip()]
    unknown = sorted(set(names) - set(REGIONS))
    if unknown:
        parser.error(f"unknown region(s) {', '.join(unknown)}: choose from {', '.join(REGIONS)}")
    began = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(region, names, [args.seed] * len(names)))
    table = dict(zip(names, results, strict=True))
    out = {
        "workload": f"weekday-ml 2021 H2, seed {args.seed}",
        "regions": table,
        "mean_share_pct": means(table, "share"),
        "mean_whole_column_visible_pct": means(table, "whole_column_visible"),
        "total_runtime_s": round(time.perf_counter() - began, 1),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
