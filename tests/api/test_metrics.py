"""GET /metrics: the lab's aggregates in Prometheus text, behind a token."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from gridwait.app.budgets import set_budget
from gridwait.store.intensity import save_points
from tests.api.conftest import ALICE, ROOT, Lab


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_aggregates_behind_a_token(lab: Lab) -> None:
    assert lab.call("GET", "/metrics").status_code == 401
    run_id, _ = lab.claimed_run(ALICE)
    queued = lab.job_of(ALICE)
    now = datetime.now(UTC)
    with lab.deps.store().write() as session:
        save_points(
            session,
            [
                {
                    "provider": "profile",
                    "zone": "DE",
                    "signal": "average",
                    "kind": "forecast",
                    "issued_at": now - timedelta(hours=1),
                    "start": now - timedelta(minutes=10),
                    "resolution_s": 3600,
                    "value": 321.0,
                    "fetched_at": now,
                },
            ],
        )
    set_budget(lab.deps, ROOT, "user", "alice", 1000.0)
    with sqlite3.connect(lab.deps.settings.db) as conn:  # as the service's accounting leaves it
        conn.execute(
            "UPDATE runs SET state = 'succeeded', ended_at = ?, energy_facility_j = 7200000,"
            " emissions_g = 250, saving_g = 50, intensity_source = 'profile (fallback: x)'"
            " WHERE id = ?",
            (now.strftime("%Y-%m-%d %H:%M:%S.%f"), run_id),
        )
        conn.execute(
            "UPDATE jobs SET plan_forecast_g = 10, plan_run_now_g = 15,"
            " plan_source = 'forecast uk (fallback: stale)' WHERE id = ?",
            (queued,),
        )
    response = lab.as_("bob", "GET", "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = _samples(response.text)
    assert got[("gridwait_jobs", (("state", "queued"),))] == 1
    assert got[("gridwait_jobs", (("state", "running"),))] == 1
    assert got[("gridwait_intensity_g_per_kwh", (("provider", "profile"), ("zone", "DE")))] == 321
    assert got[("gridwait_planned_grams", ())] == 10
    assert got[("gridwait_run_now_grams", ())] == 15
    assert got[("gridwait_plans_on_fallback", ())] == 1
    assert got[("gridwait_run_energy_kwh_count", ())] == 1
    assert got[("gridwait_run_energy_kwh_sum", ())] == 2.0
    assert got[("gridwait_run_emissions_grams_sum", ())] == 250
    assert got[("gridwait_run_saving_grams_sum", ())] == 50
    assert got[("gridwait_runs_on_fallback", ())] == 1
    assert got[("gridwait_budget_used_percent", (("name", "alice"), ("scope", "user")))] == 25.0
    assert "reviews" not in response.text and "alice" not in response.text.replace(
        'name="alice"', ""
    )  # no job's name or owner beyond a budget's own label
