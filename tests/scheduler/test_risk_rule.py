"""The risk rule (planner/signal.py): a corrected forecast is planned on the risk quantile
of each hour's distribution, so a job defers to a later window with a wide band only for
a saving that outweighs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner import PlanJob, PlanOptions, plan
from gridwait.scheduler.planner.signal import at_risk, band_at

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
NOW_G, LATER = 300.0, 10
"""The hour at hand costs 300 g/kWh (band +-5); hour 10 is the later window (band +-80)."""


def corrected(later_g: float) -> IntensitySeries:
    values = np.full(24, 450.0)
    values[0], values[LATER] = NOW_G, later_g
    half = np.full(24, 80.0)
    half[0] = 5.0
    return IntensitySeries(
        zone="Z",
        source="trace",
        signal="average",
        kind="forecast",
        start=T0,
        resolution=H,
        values=values,
        lower=values - half,
        upper=values + half,
        band=0.8,
        correction="corrected forecast (error persistence, 28 d of stored history)",
    )


def start_hour(later_g: float, risk_quantile: float) -> float:
    job = PlanJob(1, 3600.0, 1000.0, 1, T0, T0 + 20 * H)
    options = PlanOptions(step=timedelta(minutes=60), risk_quantile=risk_quantile)
    (placement,) = plan(T0, [job], corrected(later_g), 1, options=options)
    return (placement.start - T0) / H


def test_a_marginal_saving_with_a_wide_band_stays_at_the_earlier_window() -> None:
    """290 at the median beats 300, but at the 70 % quantile the later hour is
    290 + 0.5 x 80 = 330 against 300 + 2.5: not worth the risk."""
    assert start_hour(290.0, 0.5) == LATER  # the median alone would defer
    assert start_hour(290.0, 0.7) == 0


def test_a_large_saving_defers_even_so() -> None:
    """150 + 40 = 190 at the 70 % quantile is still far below 302.5."""
    assert start_hour(150.0, 0.7) == LATER
    assert start_hour(150.0, 0.9) == LATER  # at the band's edge: 230


def test_the_quantile_moves_each_hour_by_its_own_band() -> None:
    series = corrected(290.0)
    assert at_risk(series, 0.5) is series
    pessimistic = at_risk(series, 0.7).values
    assert pessimistic[0] == pytest.approx(302.5) and pessimistic[LATER] == pytest.approx(330)
    assert at_risk(series, 0.99).values[LATER] == pytest.approx(370)  # held at the edge
    raw = IntensitySeries("Z", "trace", "average", "forecast", T0, H, series.values)
    assert at_risk(raw, 0.9) is raw  # no band: nothing to be pessimistic about


def test_the_plan_says_which_forecast_and_band_it_used() -> None:
    job = PlanJob(1, 3600.0, 1000.0, 1, T0, T0 + 20 * H)
    options = PlanOptions(risk_quantile=0.7)
    (placement,) = plan(T0, [job], corrected(150.0), 1, options=options)
    assert "corrected forecast (error persistence, 28 d of stored history)" in placement.source
    assert "80% central), planned at its 70% quantile" in placement.source
    band = band_at(corrected(150.0), placement.start, placement.end)
    assert band == "10%-90% band ±80 gCO2eq/kWh at the window"
