"""The several-zone backtest: where+when, when-only and run-now on the same jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridwait.errors import TraceError
from gridwait.grid.trace import Trace, load_trace
from gridwait.scheduler.simulate import SimOptions, SimTarget, simulate, simulate_where
from gridwait.scheduler.spatial import alternate_homes, backtest_where
from gridwait.scheduler.workload import SimJob, generate
from tests.conftest import SHARED

DACF = SHARED / "data" / "traces" / "dacf"
T0 = datetime(2021, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
DAY_AHEAD = "column:carbon_from_src_forecasts"


def hand(name: str, values: list[float]) -> Trace:
    array = np.array(values, dtype=float)
    return Trace(name, T0, H, array, {"v": array}, "v")


def test_where_when_runs_each_job_in_the_cleaner_zone_and_accounts_it_there() -> None:
    dirty, clean = hand("ERCO", [400.0] * 48), hand("CISO", [150.0] * 48)
    jobs = [SimJob(f"j{i}", T0, 2 * 3600, T0 + 10 * H, 1, False, 1000.0) for i in range(3)]
    targets = [SimTarget("ERCO", dirty, 2), SimTarget("CISO", clean, 2)]
    out = simulate_where(targets, jobs, "perfect", 0, SimOptions())
    at = sorted((o.target, o.segments[0][0]) for o in out)
    # two fit the clean zone at once; the third waits for it: still greener than ERCO
    assert at == [("CISO", T0), ("CISO", T0), ("CISO", T0 + 2 * H)]
    assert sum(o.grams for o in out) == pytest.approx(3 * 2 * 150)
    homes = alternate_homes(targets, jobs)
    confined = simulate_where(targets, jobs, "perfect", 0, SimOptions(), homes=homes)
    assert [o.target for o in confined] == [homes[j.id] for j in jobs]
    assert sum(o.grams for o in confined) == pytest.approx(2 * 2 * 400 + 2 * 150)


def test_one_target_is_the_single_zone_simulation() -> None:
    trace = load_trace(DACF / "SE_2021H2_forecast_and_actual.csv")
    jobs = generate(
        "weekday-ml", datetime(2021, 9, 6, tzinfo=UTC), datetime(2021, 9, 13, tzinfo=UTC), seed=3
    )
    options = SimOptions(capacity=4)
    alone = simulate(trace, jobs, DAY_AHEAD, 0, options)
    where = simulate_where([SimTarget(trace.name, trace, 4)], jobs, DAY_AHEAD, 0, options)
    assert [(o.segments, o.grams) for o in where] == [(o.segments, o.grams) for o in alone]


@pytest.mark.parametrize("capacity", [None, 2])
def test_dacf_ciso_erco_where_when_never_beaten_by_when_only(capacity: int | None) -> None:
    targets = [
        SimTarget(name, load_trace(DACF / f"{name}_2021H2_forecast_and_actual.csv"), capacity)
        for name in ("ERCO", "CISO")
    ]
    jobs = generate(
        "weekday-ml", datetime(2021, 9, 6, tzinfo=UTC), datetime(2021, 9, 20, tzinfo=UTC), seed=3
    )
    jobs = [j for j in jobs if capacity is None or j.gpus <= capacity]
    result = backtest_where(targets, jobs, DAY_AHEAD, 0, SimOptions())
    grams = result["emissions_g"]
    assert isinstance(grams, dict)
    assert grams["where_when"] <= grams["when_only"] <= grams["run_now"]
    assert grams["oracle_where_when"] <= grams["where_when"] * (1 + 1e-9)
    runs_at = result["jobs_run_at"]
    assert isinstance(runs_at, dict) and sum(runs_at.values()) == result["jobs"]
    assert runs_at["CISO"] > runs_at["ERCO"]  # CISO is far the cleaner zone in 2021
    if capacity is not None:
        assert runs_at["ERCO"] > 0  # two GPUs in CISO cannot take the whole queue


def test_bad_targets_are_refused_in_one_line() -> None:
    trace = hand("A", [100.0] * 48)
    job = SimJob("big", T0, 3600, T0 + 10 * H, 4, False, 100.0)
    with pytest.raises(TraceError, match="share a name"):
        backtest_where(
            [SimTarget("A", trace), SimTarget("A", trace)], [job], "perfect", 0, SimOptions()
        )
    with pytest.raises(TraceError, match="needs 4 GPUs but its home A lends 2"):
        backtest_where(
            [SimTarget("A", trace, 2), SimTarget("B", trace, 8)], [job], "perfect", 0, SimOptions()
        )
