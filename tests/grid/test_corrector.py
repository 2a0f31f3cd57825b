"""The forecast corrector on synthetic series with a known error process, and on a real
trace through the trace provider's `corrected:` modes."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import pytest

from gridwait.errors import TraceError
from gridwait.grid.corrector import (
    METHODS,
    Corrected,
    CorrectorSettings,
    RollingCorrector,
    correct,
    errors_until,
    fit_errors,
)
from gridwait.grid.series import FloatArray
from gridwait.grid.trace import TraceProvider, load_trace
from gridwait.scheduler.planner.signal import describe
from tests.conftest import SHARED

PHI = 0.8
SIGMA = 10.0


def ar1(n: int, phi: float, seed: int) -> FloatArray:
    """Errors e_t = phi e_{t-1} + N(0, SIGMA), g/kWh."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, SIGMA, n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def synthetic(n: int = 60 * 24, seed: int = 1) -> tuple[FloatArray, FloatArray]:
    """A daily actual with slow weather on top (so yesterday does not repeat exactly) and a
    forecast whose error (actual - forecast) is AR(1)."""
    hours = np.arange(n)
    weather = 3 * ar1(n, 0.97, seed + 100)
    actual = 300 + 80 * np.sin(2 * np.pi * hours / 24) + weather
    return actual, actual - ar1(n, PHI, seed)


def test_fit_recovers_the_decay_of_an_ar1_error() -> None:
    actual, forecast = synthetic()
    settings = CorrectorSettings(window=len(actual), leads=6)
    model = fit_errors(errors_until(actual, forecast, len(actual)), settings)
    for k in (1, 2, 3, 6):
        assert model.decay[k - 1] == pytest.approx(PHI**k, abs=0.06)
    assert np.abs(model.intercept).max() < 3  # no bias in the process, none found
    # the band is the spread left after the correction: it widens with the lead
    width = model.upper - model.lower
    assert width[0] < width[5]
    assert width[0] == pytest.approx(2 * 1.2816 * SIGMA, rel=0.15)  # N(0, sigma)'s 10-90 %


@pytest.mark.parametrize("method", ["stacked", "persistence"])
def test_correction_beats_the_raw_forecast_and_the_band_covers_what_it_says(
    method: Literal["stacked", "persistence"],
) -> None:
    actual, forecast = synthetic(n=120 * 24, seed=2)
    rolling = RollingCorrector(actual, forecast, CorrectorSettings(leads=12, method=method))
    raw_se, fixed_se, inside, count = np.zeros(12), np.zeros(12), 0, 0
    for known in range(30 * 24, len(actual) - 12, 5):
        fixed = rolling.at(known, known + 12)
        truth = actual[known : known + 12]
        raw_se += (truth - forecast[known : known + 12]) ** 2
        fixed_se += (truth - fixed.values) ** 2
        inside += int(((truth >= fixed.lower) & (truth <= fixed.upper)).sum())
        count += 12
    assert fixed_se[0] < 0.5 * raw_se[0]  # one hour ahead: most of the error is known
    assert (fixed_se <= raw_se * 1.02).all()  # never much worse at any lead
    assert inside / count == pytest.approx(0.8, abs=0.04)  # out of sample


@pytest.mark.parametrize("method", ["stacked", "persistence"])
def test_the_corrector_never_reads_an_actual_after_now(
    method: Literal["stacked", "persistence"],
) -> None:
    actual, forecast = synthetic()
    known = 40 * 24 + 7
    settings = CorrectorSettings(method=method)
    clean = RollingCorrector(actual, forecast, settings).at(known, known + 48)
    model = fit_errors(errors_until(actual, forecast, known), CorrectorSettings())
    direct = correct(actual, forecast, known, model, CorrectorSettings())
    for poison in (np.nan, 1e9, -5.0):
        poisoned = actual.copy()
        poisoned[known:] = poison
        again = RollingCorrector(poisoned, forecast, settings).at(known, known + 48)
        refit = fit_errors(errors_until(poisoned, forecast, known), CorrectorSettings())
        for name in ("values", "lower", "upper", "quantile"):
            assert getattr(again, name).tolist() == getattr(clean, name).tolist()
        for name in ("intercept", "decay", "lower", "upper", "median"):
            assert getattr(refit, name).tolist() == getattr(model, name).tolist()
        assert (
            correct(poisoned, forecast, known, model, CorrectorSettings()).values.tolist()
            == direct.values.tolist()
        )


def test_the_planning_quantile_moves_inside_the_band() -> None:
    actual, forecast = synthetic()
    known = 40 * 24

    def at(quantile: float) -> Corrected:
        settings = CorrectorSettings(risk_quantile=quantile)
        return RollingCorrector(actual, forecast, settings).at(known, known + 24)

    median, high, low = at(0.5), at(0.9), at(0.1)
    assert np.allclose(high.quantile, median.upper)
    assert np.allclose(low.quantile, median.lower)
    assert (low.quantile <= median.quantile).all() and (median.quantile <= high.quantile).all()


def test_no_known_error_means_no_correction() -> None:
    actual, forecast = synthetic(n=200)
    actual[:100] = np.nan
    model = fit_errors(errors_until(actual, forecast, 100), CorrectorSettings())
    assert not model.decay.any()
    fixed = correct(actual, forecast, 100, model, CorrectorSettings())
    assert fixed.values.tolist() == forecast[100:].tolist()


DACF = SHARED / "data" / "traces" / "dacf" / "DE_2021H2_forecast_and_actual.csv"


@pytest.fixture(scope="module")
def dacf():  # type: ignore[no-untyped-def]
    return load_trace(DACF)


def test_a_day_ahead_column_reaches_only_as_far_as_it_was_published(dacf) -> None:  # type: ignore[no-untyped-def]
    provider = TraceProvider(dacf, "column:carbon_from_src_forecasts")
    morning = datetime(2021, 9, 1, 11, 30, tzinfo=UTC)  # tomorrow's values come out at noon
    assert provider.forecast("DE", morning, morning + timedelta(days=3)).end == datetime(
        2021, 9, 2, tzinfo=UTC
    )
    noon = morning + timedelta(minutes=30)
    assert provider.forecast("DE", noon, noon + timedelta(days=3)).end == datetime(
        2021, 9, 3, tzinfo=UTC
    )


def test_corrected_mode_on_a_real_trace(dacf) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2021, 9, 1, 13, 30, tzinfo=UTC)
    raw = TraceProvider(dacf, "column:carbon_from_src_forecasts").forecast(
        "DE", now, now + timedelta(hours=24)
    )
    fixed = TraceProvider(dacf, "corrected:column:carbon_from_src_forecasts").forecast(
        "DE", now, now + timedelta(hours=24)
    )
    assert fixed.start == raw.start and len(fixed) == len(raw)
    assert fixed.lower is not None and fixed.upper is not None
    assert (fixed.lower <= fixed.values).all() and (fixed.values <= fixed.upper).all()
    assert fixed.values.tolist() != raw.values.tolist()
    assert METHODS["stacked"] in (fixed.note or "")
    sliced = fixed.slice(now + timedelta(hours=2), now + timedelta(hours=5))
    assert sliced.lower is not None and len(sliced.lower) == len(sliced)


def test_persistence_cannot_be_corrected(dacf) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TraceError, match="only a forecast column or noise"):
        TraceProvider(dacf, "corrected:persistence")


def test_a_plan_says_it_used_a_corrected_forecast_and_its_band(dacf) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2021, 9, 1, 13, 30, tzinfo=UTC)
    mode = "corrected:column:carbon_from_src_forecasts"
    fixed = TraceProvider(dacf, mode).forecast("DE", now, now + timedelta(hours=24))
    raw = TraceProvider(dacf, mode.removeprefix("corrected:")).forecast(
        "DE", now, now + timedelta(hours=24)
    )
    assert fixed.lower is not None and fixed.upper is not None
    width = float(np.mean(fixed.upper - fixed.lower))
    assert f"corrected from its own errors, band {width:.0f} gCO2eq/kWh" in describe(fixed, None)
    assert "corrected" not in describe(raw, None)


def test_a_corrected_day_ahead_forecast_never_reads_an_actual_after_its_issue_time(dacf) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2021, 9, 3, 10, 30, tzinfo=UTC)
    mode = "corrected:column:carbon_from_src_forecasts"
    clean = TraceProvider(dacf, mode).forecast("DE", now, now + timedelta(hours=36))
    after = math.ceil(dacf.index(now))  # the period holding `now` has not ended yet
    for poison in (np.nan, 1e6):
        actual = dacf.actual.copy()
        actual[after - 1 :] = poison
        poisoned = replace(dacf, actual=actual)
        again = TraceProvider(poisoned, mode).forecast("DE", now, now + timedelta(hours=36))
        assert again.values.tolist() == clean.values.tolist()
        assert again.lower is not None and clean.lower is not None
        assert again.lower.tolist() == clean.lower.tolist()
    # and the last period that HAS ended is read: poisoning it changes the numbers
    actual = dacf.actual.copy()
    actual[after - 2] = 1e6
    moved = TraceProvider(replace(dacf, actual=actual), mode).forecast(
        "DE", now, now + timedelta(hours=36)
    )
    assert moved.values.tolist() != clean.values.tolist()


def test_a_corrected_mode_says_raw_until_its_errors_can_be_fitted(dacf) -> None:  # type: ignore[no-untyped-def]
    mode = "corrected:column:carbon_from_src_forecasts"
    first = datetime(2021, 7, 1, 13, 30, tzinfo=UTC)  # the trace's first day: no fit yet
    raw = TraceProvider(dacf, "column:carbon_from_src_forecasts").forecast(
        "DE", first, first + timedelta(hours=24)
    )
    early = TraceProvider(dacf, mode).forecast("DE", first, first + timedelta(hours=24))
    assert early.values.tolist() == raw.values.tolist()
    assert early.band is None and early.lower is None
    assert (early.correction or "").startswith("raw forecast: too few of its errors")
    later = first + timedelta(days=5)
    fixed = TraceProvider(dacf, mode).forecast("DE", later, later + timedelta(hours=24))
    assert fixed.correction == "corrected from its own errors" and fixed.band == 0.8
