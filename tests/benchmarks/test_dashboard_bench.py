"""The dashboard benchmark's quick run end to end: both answers timed, every planned job
a bar on the Now page. Timings are the benchmark's business: no goal is asserted here."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_benchmark


def test_the_quick_run_draws_every_job_and_times_both_answers() -> None:
    done = run_benchmark("dashboard", "--quick", GRIDWAIT_SITE_CONFIG="")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["jobs"] == 20 and result["now_page_bars"] == 20
    assert result["plan_api_s_median"] > 0 and result["now_page_s_median"] > 0
    measured = result["now_page_s_median"] / result["plan_api_s_median"]
    assert result["ratio"] == pytest.approx(measured, rel=0.01)  # medians are rounded
    assert result["pass"] == (result["ratio"] <= result["goal_ratio"])
