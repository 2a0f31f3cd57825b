"""The stacked corrector on synthetic series whose generating weights are known, and its
honesty: no actual at or after the cut (fit) or `known` (prediction) changes anything."""

from __future__ import annotations

import numpy as np
import pytest

from gridwait.grid.corrector import CorrectorSettings
from gridwait.grid.series import FloatArray
from gridwait.grid.stacked import StackedModel, fit_stacked, naive_index, predict_stacked

DAY = 24
PHI = 0.8


def ar1(n: int, phi: float, sigma: float, rng: np.random.Generator) -> FloatArray:
    shocks = rng.normal(0.0, sigma, n)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def series(n: int = 90 * DAY, seed: int = 3) -> tuple[FloatArray, FloatArray]:
    """Forecast = a daily shape + slow weather; actual = forecast + an AR(1) error that
    is independent of the forecast (so the best blend is known exactly)."""
    rng = np.random.default_rng(seed)
    hours = np.arange(n)
    forecast = 300 + 80 * np.sin(2 * np.pi * hours / DAY) + ar1(n, 0.97, 10.0, rng)
    return forecast + ar1(n, PHI, 10.0, rng), forecast


def fit(actual: FloatArray, forecast: FloatArray, cut: int, leads: int = 6) -> StackedModel:
    settings = CorrectorSettings(window=60 * DAY, leads=leads, band=0.8, min_pairs=48)
    return fit_stacked(actual, forecast, cut, DAY, settings)


def test_it_recovers_the_weights_of_an_ar1_forecast_error() -> None:
    # actual[s+k] = forecast[s+k] + e[s+k] and E[e[s+k] | e[s]] = PHI^k e[s]: the true blend
    # is 0 + 1 x forecast + PHI^k x error + 0 x yesterday's actual
    actual, forecast = series()
    model = fit(actual, forecast, len(actual))
    for k in (1, 2, 3, 6):
        w = model.weights[k - 1]
        assert w[1] == pytest.approx(1.0, abs=0.05)
        assert w[2] == pytest.approx(PHI**k, abs=0.06)
        assert abs(w[3]) < 0.05
    width = model.upper - model.lower
    assert width[0] < width[5]  # the band widens with the lead


def test_it_leans_on_yesterday_where_the_forecast_knows_nothing() -> None:
    rng = np.random.default_rng(4)
    n = 60 * DAY
    hours = np.arange(n)
    actual = 300 + 80 * np.sin(2 * np.pi * hours / DAY) + rng.normal(0, 5, n)
    flat = np.full(n, 300.0) + rng.normal(0, 1, n)  # a forecast blind to the daily shape
    model = fit(actual, flat, n)
    assert model.weights[2, 3] > 0.8  # the same hour of the latest known day carries it
    values, _ = predict_stacked(actual, flat, n - DAY, n, model, DAY) or (None, None)
    assert values is not None
    truth = actual[n - DAY :]
    assert np.sqrt(np.mean((values - truth) ** 2)) < 0.3 * np.sqrt(
        np.mean((flat[-DAY:] - truth) ** 2)
    )


def test_the_seasonal_term_only_looks_at_known_days() -> None:
    target = np.array([24, 30, 47, 48])
    last = 23
    back = naive_index(target, target - last, DAY)
    assert back.tolist() == [24 - 24, 30 - 24, 47 - 24, 48 - 48]
    assert (back <= last).all() and ((back - target) % DAY == 0).all()


def test_neither_fit_nor_prediction_reads_an_actual_at_or_after_the_cut() -> None:
    actual, forecast = series()
    cut = 50 * DAY
    known = cut + 7
    model = fit(actual, forecast, cut, leads=48)
    clean = predict_stacked(actual, forecast, known, known + 48, model, DAY)
    assert clean is not None
    for poison in (np.nan, 1e9, -5.0):
        fitted_on = actual.copy()
        fitted_on[cut:] = poison
        refit = fit(fitted_on, forecast, cut, leads=48)
        for name in ("weights", "lower", "median", "upper"):
            assert getattr(refit, name).tolist() == getattr(model, name).tolist()
        predicted_on = actual.copy()
        predicted_on[known:] = poison
        again = predict_stacked(predicted_on, forecast, known, known + 48, model, DAY)
        assert again is not None
        assert again[0].tolist() == clean[0].tolist() and again[1].tolist() == clean[1].tolist()


def test_no_known_actual_means_no_prediction_and_too_few_pairs_mean_the_raw_forecast() -> None:
    actual, forecast = series(n=10 * DAY)
    blind = actual.copy()
    blind[: 5 * DAY] = np.nan
    model = fit(blind, forecast, 5 * DAY)
    assert model.weights[:, 1].tolist() == [1.0] * 6 and not model.weights[:, [0, 2, 3]].any()
    assert predict_stacked(blind, forecast, 5 * DAY, 6 * DAY, model, DAY) is None
