"""Correcting a forecast from its own recent errors: error persistence with a fitted decay
per lead (this module) or the stacked blend of grid/stacked.py (the default, measured
better on the DACF backtests), and an empirical band per lead.

The error of a forecast is e = actual - forecast, in gCO2eq/kWh. Day-ahead errors are
strongly autocorrelated (lag-1 0.73-0.94 on the DACF traces), so the latest known error
says much about the next hours and little about the day after (Leerbeck et al. 2020 fit
ARIMA on such residuals; the decay of its forecast is what this model fits directly).

For every lead k (periods after the latest known error e_s), over a rolling window of past
errors, one least-squares line e_{s+k} = intercept_k + decay_k x e_s; the quantiles of its
residuals in the window give the band. A forecast value k periods after the latest known
error becomes forecast + intercept_k + decay_k x e_s, and its band adds the residual
quantiles. Leads beyond the fitted ones use the last fitted lead (the decay has died out
by then). Nothing here reads a clock or an actual later than the `known` count passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from gridwait.grid import stacked
from gridwait.grid.series import FloatArray

METHOD = "error persistence, per-lead least squares, empirical residual quantiles"
METHODS = {"persistence": METHOD, "stacked": stacked.METHOD}
Method = Literal["stacked", "persistence"]


@dataclass(frozen=True)
class CorrectorSettings:
    window: int = 28 * 24
    """Past periods of errors each fit uses (28 days of hours)."""
    leads: int = 48
    """Leads fitted, in periods; later ones use the last."""
    band: float = 0.8
    """Central share of past residuals the band covers (0.8: the 10 % and 90 % quantiles)."""
    min_pairs: int = 48
    """Fewer (error, later error) pairs than this for a lead: no correction at that lead."""
    risk_quantile: float = 0.5
    """The value to plan on: this quantile of the corrected forecast's error distribution,
    linearly between the band's edges and the median (0.5: the median; higher plans on
    dirtier hours where the forecast is less sure, so a wait must promise more)."""
    method: Method = "stacked"
    """`stacked`: per lead, least squares of the actual on the forecast, the latest error
    and the same-hour actual of the latest known day (grid/stacked.py); `persistence`:
    forecast + intercept + decay x the latest error (this module). Stacked captured more
    of the oracle's saving on the DACF traces (benchmarks/README.md)."""


@dataclass(frozen=True)
class ErrorModel:
    """Per lead k = 1..leads (index k - 1), all in gCO2eq/kWh except `decay`."""

    intercept: FloatArray
    decay: FloatArray
    """Share of the latest known error expected to remain k periods later."""
    lower: FloatArray
    """Residual quantile (1 - band) / 2 at each lead."""
    upper: FloatArray
    """Residual quantile (1 + band) / 2 at each lead."""
    median: FloatArray
    """Residual median at each lead."""
    fitted: int = 0
    """Leads with enough pairs to fit (the others get no correction)."""

    @property
    def leads(self) -> int:
        return len(self.decay)

    def at(self, lead: np.ndarray) -> np.ndarray:
        """Index into the per-lead arrays for leads >= 1 (beyond the last: the last)."""
        index: np.ndarray = np.minimum(lead, self.leads) - 1
        return index


@dataclass(frozen=True)
class Corrected:
    """A corrected forecast and its band on the forecast's own grid, gCO2eq/kWh."""

    values: FloatArray
    lower: FloatArray
    upper: FloatArray
    quantile: FloatArray
    """forecast + the correction + the residual quantile asked for (the value to plan on
    under `risk_quantile`); equal to `values` plus the residual median at 0.5."""
    raw: bool = False
    """Nothing was corrected: no error known yet, or no lead had enough pairs to fit."""


def errors_until(actual: FloatArray, forecast: FloatArray, known: int) -> FloatArray:
    """actual - forecast over the first `known` periods (the ones whose actual is known);
    NaN where either is missing. Reads nothing at or after `known`."""
    return actual[:known] - forecast[:known]


def fit_errors(errors: FloatArray, settings: CorrectorSettings) -> ErrorModel:
    """Fit the per-lead model on the last `settings.window` errors (the last element is the
    latest known error). A lead with too few pairs gets no correction and a zero band."""
    past = errors[-settings.window :]
    n = settings.leads
    intercept, decay = np.zeros(n), np.zeros(n)
    lower, upper, median = np.zeros(n), np.zeros(n), np.zeros(n)
    tail = (1 - settings.band) / 2
    fitted = 0
    for k in range(1, n + 1):
        x, y = past[:-k], past[k:]
        ok = ~(np.isnan(x) | np.isnan(y))
        if np.count_nonzero(ok) < settings.min_pairs:
            continue
        x, y = x[ok], y[ok]
        x_mean, y_mean = float(x.mean()), float(y.mean())
        spread = float(((x - x_mean) ** 2).sum())
        slope = float(((x - x_mean) * (y - y_mean)).sum()) / spread if spread > 0 else 0.0
        intercept[k - 1] = y_mean - slope * x_mean
        decay[k - 1] = slope
        fitted += 1
        residual = y - (intercept[k - 1] + slope * x)
        lower[k - 1], median[k - 1], upper[k - 1] = np.quantile(residual, [tail, 0.5, 1 - tail])
    return ErrorModel(intercept, decay, lower, upper, median, fitted)


def correct(
    actual: FloatArray,
    forecast: FloatArray,
    known: int,
    model: ErrorModel,
    settings: CorrectorSettings,
) -> Corrected:
    """The corrected forecast for periods `known`.. of `forecast` (same grid as `actual`),
    from the latest error known before `known`. Reads `actual` only before `known`."""
    future = forecast[known:]
    errors = errors_until(actual, forecast, known)
    finite = np.flatnonzero(~np.isnan(errors))
    if finite.size == 0 or not model.fitted:
        return _uncorrected(future)
    last = int(finite[-1])
    lead = np.arange(known, len(forecast)) - last
    i = model.at(lead)
    values = future + model.intercept[i] + model.decay[i] * errors[last]
    return _banded(values, model.lower[i], model.median[i], model.upper[i], settings)


def _uncorrected(forecast: FloatArray) -> Corrected:
    """`forecast` left raw (no error known yet to correct it from): a zero-width band."""
    return Corrected(forecast.copy(), forecast.copy(), forecast.copy(), forecast.copy(), raw=True)


def _banded(
    values: FloatArray,
    lower: FloatArray,
    median: FloatArray,
    upper: FloatArray,
    settings: CorrectorSettings,
) -> Corrected:
    """`values` with the residual quantiles of their leads added."""
    shift = _quantile_shift(lower, median, upper, settings.risk_quantile, settings.band)
    return Corrected(values, values + lower, values + upper, values + shift)


def _quantile_shift(
    lower: FloatArray, median: FloatArray, upper: FloatArray, risk_quantile: float, band: float
) -> FloatArray:
    """Residual quantile `risk_quantile` at each lead, interpolated between the fitted
    quantiles (median, band edges) and held beyond them."""
    tail = (1 - band) / 2
    points = np.array([tail, 0.5, 1 - tail])
    table = np.stack([lower, median, upper])
    q = min(max(risk_quantile, tail), 1 - tail)
    j = 0 if q <= 0.5 else 1
    w = (q - points[j]) / (points[j + 1] - points[j])
    shift: FloatArray = (1 - w) * table[j] + w * table[j + 1]
    return shift


class RollingCorrector:
    """Corrections of one forecast array against one actual array on the same grid, the
    model refitted every `refit` periods on the errors known at that refit (a backtest's
    polls ask for many cuts; the fits are the cost). `day`: periods in a day (the stacked
    method's same-hour term)."""

    def __init__(
        self,
        actual: FloatArray,
        forecast: FloatArray,
        settings: CorrectorSettings,
        refit: int = 24,
        day: int = 24,
    ) -> None:
        self.actual = actual
        self.forecast = forecast
        self.settings = settings
        self.refit = refit
        self.day = day
        self._fits: dict[int, ErrorModel] = {}
        self._stacked: dict[int, stacked.StackedModel] = {}

    def _cut(self, known: int) -> int:
        """The last refit at or before `known` periods."""
        return known - known % self.refit

    def model(self, known: int) -> ErrorModel:
        """The model of the last refit at or before `known` periods."""
        cut = self._cut(known)
        fitted = self._fits.get(cut)
        if fitted is None:
            first = max(0, cut - self.settings.window)
            errors = errors_until(self.actual[first:cut], self.forecast[first:cut], cut - first)
            fitted = fit_errors(errors, self.settings)
            self._fits[cut] = fitted
        return fitted

    def stacked_model(self, known: int) -> stacked.StackedModel:
        """The stacked weights of the last refit at or before `known` periods."""
        cut = self._cut(known)
        fitted = self._stacked.get(cut)
        if fitted is None:
            fitted = stacked.fit_stacked(self.actual, self.forecast, cut, self.day, self.settings)
            self._stacked[cut] = fitted
        return fitted

    def at(self, known: int, end: int) -> Corrected:
        """The corrected forecast for periods [known, end), knowing actuals before `known`."""
        if self.settings.method == "stacked":
            model = self.stacked_model(known)
            got = stacked.predict_stacked(
                self.actual[:known], self.forecast, known, end, model, self.day
            )
            if got is None or not model.fitted:
                return _uncorrected(self.forecast[known:end])
            values, row = got
            return _banded(
                values, model.lower[row], model.median[row], model.upper[row], self.settings
            )
        first = max(0, known - self.settings.window)
        return correct(
            self.actual[first:known],
            self.forecast[first:end],
            known - first,
            self.model(known),
            self.settings,
        )
