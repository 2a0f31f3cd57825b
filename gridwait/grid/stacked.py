"""The stacked corrector: per lead, one least-squares blend of the day-ahead forecast,
its latest known error and the latest known actual at the same time of day.

For the latest known period s and a lead k, the value at s + k is predicted as

    w0_k + w1_k x forecast[s + k] + w2_k x (actual[s] - forecast[s]) + w3_k x actual[n]

where n = s + k - day x ceil(k / day) is the same period of the latest day already known
at s (seasonal naive). Error persistence is the special case w1 = 1, w3 = 0; letting the
fit choose lets a weak forecast lean on yesterday's actuals and a forecast with the
wrong amplitude be rescaled, which is what changes the RANKING of hours (the planner's
only question). The weights come from the pairs of a rolling window; the quantiles of
their residuals give the band. Nothing here reads an actual at or after the `known`
count (or the refit's `cut`) passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gridwait.grid.series import FloatArray

if TYPE_CHECKING:  # corrector.py imports this module
    from gridwait.grid.corrector import CorrectorSettings

METHOD = (
    "stacked per-lead least squares of forecast, latest error and same-hour actual,"
    " empirical residual quantiles"
)
TERMS = 4
"""intercept, forecast, latest error, seasonal-naive actual"""


@dataclass(frozen=True)
class StackedModel:
    """Per lead k = 1..leads (row k - 1); the band's quantiles in gCO2eq/kWh."""

    weights: FloatArray
    """(leads, TERMS): intercept (g/kWh), then the unitless weights of the three terms."""
    lower: FloatArray
    median: FloatArray
    upper: FloatArray
    fitted: int = 0
    """Leads with enough pairs to fit (the others keep the raw forecast)."""

    @property
    def leads(self) -> int:
        return len(self.weights)


def naive_index(target: np.ndarray, lead: np.ndarray, day: int) -> np.ndarray:
    """The period of the latest known day at the same time of day as `target`."""
    back: np.ndarray = target - day * ((lead + day - 1) // day)
    return back


def _terms(
    actual: FloatArray, forecast: FloatArray, last: np.ndarray, target: np.ndarray, day: int
) -> FloatArray:
    back = naive_index(target, target - last, day)
    naive = np.where(back >= 0, actual[np.maximum(back, 0)], np.nan)
    # a missing seasonal value stands in as the forecast itself (the weights sum about so)
    naive = np.where(np.isnan(naive), forecast[target], naive)
    terms: FloatArray = np.stack(
        [
            np.ones(len(target)),
            forecast[target],
            actual[last] - forecast[last],
            naive,
        ],
        axis=1,
    )
    return terms


def fit_stacked(
    actual: FloatArray, forecast: FloatArray, cut: int, day: int, settings: CorrectorSettings
) -> StackedModel:
    """Weights per lead from the pairs whose target lies in [cut - window, cut). A lead
    with fewer than `min_pairs` complete pairs keeps the raw forecast (w1 = 1) and a zero
    band."""
    window, leads, band, min_pairs = (
        settings.window,
        settings.leads,
        settings.band,
        settings.min_pairs,
    )
    weights = np.zeros((leads, TERMS))
    weights[:, 1] = 1.0
    lower, median, upper = np.zeros(leads), np.zeros(leads), np.zeros(leads)
    tail = (1 - band) / 2
    first = max(0, cut - window)
    fitted = 0
    for k in range(1, leads + 1):
        target = np.arange(max(first, day * ((k + day - 1) // day)), cut)
        if target.size < min_pairs:
            continue
        x = _terms(actual[:cut], forecast, target - k, target, day)
        y = actual[target]
        ok = ~(np.isnan(x).any(axis=1) | np.isnan(y))
        if np.count_nonzero(ok) < min_pairs:
            continue
        coef = np.linalg.lstsq(x[ok], y[ok], rcond=None)[0]
        weights[k - 1] = coef
        fitted += 1
        residual = y[ok] - x[ok] @ coef
        lower[k - 1], median[k - 1], upper[k - 1] = np.quantile(residual, [tail, 0.5, 1 - tail])
    return StackedModel(weights, lower, median, upper, fitted)


def predict_stacked(
    actual: FloatArray, forecast: FloatArray, known: int, end: int, model: StackedModel, day: int
) -> tuple[FloatArray, np.ndarray] | None:
    """The blended values for periods [known, end) and each one's row in the model (its
    lead, capped at the last fitted), from the latest period before `known` with both an
    actual and a forecast; None when there is none. Reads `actual` only before `known`."""
    seen = actual[:known] - forecast[:known]
    finite = np.flatnonzero(~np.isnan(seen))
    if finite.size == 0:
        return None
    last = int(finite[-1])
    target = np.arange(known, end)
    row = np.minimum(target - last, model.leads) - 1
    x = _terms(actual[:known], forecast, np.full(len(target), last), target, day)
    values: FloatArray = (model.weights[row] * x).sum(axis=1)
    return values, row
