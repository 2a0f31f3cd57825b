"""The dashboard's figures from views alone: lanes, the fallback's marking, hover text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gridwait.api.web.charts import budgets_figure, months_figure, now_figure
from gridwait.app.views import (
    BudgetView,
    ForecastPoint,
    ForecastView,
    PlanRow,
    PlanView,
    QueueRow,
    ReportRow,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def forecast(values: list[float | None], fallback: str | None = None) -> ForecastView:
    return ForecastView(
        provider="profile",
        zone="US-CAL-CISO",
        signal="average",
        issued_at=T0,
        resolution_s=3600,
        fallback=fallback,
        note=None,
        points=[ForecastPoint(start=T0 + i * H, value=v) for i, v in enumerate(values)],
        greenest={},
    )


def planned(
    job: int, start: int, hours: int, segments: list[tuple[int, int]] | None = None
) -> PlanRow:
    return PlanRow(
        id=job,
        name=f"j{job}",
        owner="alice",
        project="p",
        status="planned",
        start=T0 + start * H,
        end=T0 + (start + hours) * H,
        segments=[(T0 + a * H, T0 + b * H) for a, b in segments or []],
        forecast_g=30.0,
        run_now_g=40.0,
        saving_g=10.0,
        fallback_share=0.0,
        source="profile",
        reason=None,
    )


def traces(figure: dict[str, object]) -> dict[str, dict[str, object]]:
    data = figure["data"]
    assert isinstance(data, list)
    return {t["name"]: t for t in data}


def test_overlapping_jobs_get_lanes_of_their_own_and_a_free_lane_is_reused() -> None:
    plan = PlanView(
        now=T0,
        notes=[],
        jobs=[
            planned(1, 0, 3),
            planned(2, 1, 2),
            planned(3, 3, 1),
            planned(4, 5, 4, [(5, 6), (8, 9)]),
        ],
    )
    bars = traces(now_figure(forecast([100.0] * 10), None, plan, []))["planned jobs"]
    assert bars["customdata"] == [1, 2, 3, 4, 4]  # an interruptible job: a bar per segment
    assert bars["y"] == [0, 1, 0, 0, 0]
    assert bars["x"] == [3 * 3.6e6, 2 * 3.6e6, 3.6e6, 3.6e6, 3.6e6]
    assert bars["base"][3:] == ["2026-03-02 13:00:00", "2026-03-02 16:00:00"]
    assert bars["hovertext"][0] == (
        "job 1 j1 (alice, p)<br>forecast 30 g<br>run now 40 g<br>saving 10 g (25%)"
    )


def test_a_running_job_is_drawn_beside_the_planned_ones() -> None:
    row = QueueRow(
        id=9,
        name="r",
        owner="bob",
        project="p",
        state="running",
        gpus=0,
        interruptible=False,
        submitted_at=T0,
        deadline=T0 + 9 * H,
        planned_start=T0,
        planned_end=T0 + 2 * H,
        est_energy_kwh=0.1,
        est_seconds=7200.0,
        plan_forecast_g=5.0,
        plan_run_now_g=8.0,
        late=False,
        reason=None,
    )
    plan = PlanView(now=T0, notes=[], jobs=[planned(1, 1, 1)])
    shown = traces(now_figure(forecast([100.0] * 4), None, plan, [row]))
    assert shown["running jobs"]["customdata"] == [9]
    assert "saving 3.00 g (38%)" in shown["running jobs"]["hovertext"][0]
    assert shown["planned jobs"]["y"] == [1]  # the running job holds slot 1


def test_a_fallback_forecast_is_dashed_and_named_and_gaps_get_their_own_trace() -> None:
    plan = PlanView(now=T0, notes=[], jobs=[])
    stand_in = traces(
        now_figure(forecast([50.0, 60.0], "built-in profile, because 503"), None, plan, [])
    )
    line = stand_in["forecast (fallback: built-in profile, because 503)"]
    assert line["line"] == {"shape": "hv", "color": "#9e9e9e", "dash": "dash"}

    gappy = traces(now_figure(forecast([50.0, None, 70.0]), None, plan, []))
    # the last value is repeated at the end of its period, so that its step is drawn
    assert gappy["forecast (profile)"]["y"] == [50.0, None, 70.0, 70.0]
    assert gappy["forecast (profile)"]["x"][-1] == "2026-03-02 11:00:00"
    assert gappy["fallback: gap filled with the mean"]["y"] == [None, 60.0, None, None]


def test_the_stand_in_is_drawn_where_the_planner_uses_it_at_the_profile_s_values() -> None:
    """The planner plans a forecast's gaps, and the time after its end, on the built-in
    profile (else the forecast's mean): the chart marks both, at those values, up to the
    end of the last job's window."""
    profile = forecast([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    plan = PlanView(now=T0, notes=[], jobs=[planned(1, 3, 2)])  # ends at T0 + 5 h
    shown = traces(now_figure(forecast([50.0, None, 70.0]), None, plan, [], profile))
    line = shown["fallback: built-in profile"]
    assert line["y"] == [None, 20.0, None, 40.0, 50.0, 50.0]
    assert line["x"][3:] == ["2026-03-02 11:00:00", "2026-03-02 12:00:00", "2026-03-02 13:00:00"]
    assert line["line"]["dash"] == "dot"

    alone = traces(now_figure(forecast([50.0, None, 70.0]), None, plan, []))
    mean = alone["fallback: gap filled with the mean"]
    assert mean["y"] == [None, 60.0, None, 60.0, 60.0]  # the gap, then 11:00 to 13:00
    assert mean["x"][-1] == "2026-03-02 13:00:00"


def test_a_corrected_forecast_is_drawn_with_its_band() -> None:
    """With [grid] forecast_correction the planner plans on the corrected forecast: its
    median and band are drawn beside the provider's raw line."""
    raw = forecast([50.0, 60.0])
    points = [
        p.model_copy(update={"corrected": c, "lower": lo, "upper": hi})
        for p, (c, lo, hi) in zip(raw.points, [(55.0, 45.0, 65.0), (58.0, 40.0, 76.0)], strict=True)
    ]
    fixed = raw.model_copy(update={"points": points, "band": 0.8, "risk_quantile": 0.7})
    plan = PlanView(now=T0, notes=[], jobs=[])
    shown = traces(now_figure(fixed, None, plan, []))
    assert shown["forecast (profile)"]["y"] == [50.0, 60.0, 60.0]
    assert shown["corrected forecast (median)"]["y"] == [55.0, 58.0, 58.0]
    band = shown["corrected forecast: 80% band (planned at its 70% quantile)"]
    assert band["y"] == [65.0, 76.0, 76.0] and band["fill"] == "tonexty"
    assert shown["band low"]["y"] == [45.0, 40.0, 40.0]
    assert "corrected forecast (median)" not in traces(now_figure(raw, None, plan, []))


def test_months_and_budgets_carry_their_numbers() -> None:
    month = ReportRow(
        month="2026-03",
        runs=2,
        energy_kwh=1.0,
        emissions_g=300.0,
        embodied_g=0.0,
        total_g=300.0,
        water_l=0.0,
        reported_on="profile",
        planned_on="profile",
        planning_g=None,
        measured_g_share=0.0,
        estimated_g_share=1.0,
        amortised_g_share=0.0,
        counterfactual_g=400.0,
        saving_g=100.0,
        saving_pct=25.0,
        measured_share=0.0,
        provisional_runs=0,
        budget_monthly_g=None,
        budget_used_g=None,
        budget_used_pct=None,
    )
    shown = traces(months_figure([month]))
    assert shown["emissions (g)"]["y"] == [300.0] and shown["avoided (g)"]["y"] == [100.0]
    over = BudgetView(
        scope="user",
        name="alice",
        monthly_g=100.0,
        counts="operational",
        month="2026-03",
        used_g=80.0,
        committed_g=50.0,
        left_g=-30.0,
    )
    bars = traces(budgets_figure([over]))
    assert (bars["used (g)"]["x"], bars["committed (g)"]["x"], bars["left (g)"]["x"]) == (
        [80.0],
        [50.0],
        [0.0],
    )
    assert bars["used (g)"]["y"] == ["user alice"]


def test_what_a_user_typed_is_escaped_for_plotly() -> None:
    row = planned(1, 0, 1).model_copy(update={"name": '<a href="https://evil.example">x</a>'})
    plan = PlanView(now=T0, notes=[], jobs=[row])
    text = traces(now_figure(forecast([1.0]), None, plan, []))["planned jobs"]["hovertext"][0]
    assert text.startswith("job 1 &lt;a href=&quot;https://evil.example&quot;&gt;x&lt;/a&gt; (")
