"""The forecast corrector in the live path: each planning pass corrects the provider's
newest forecast from the errors of the forecasts the service stored before.

The history is the store's, as it was at `now` (store/intensity_history.py): the actual
of every period that had ended by then, and for every past period the forecast issued
last at or before its start (for a day-ahead provider: the day-ahead value; for one that
updates hourly: the hour-ahead one). Fresh actuals are fetched from the provider first, up
to the period holding `now`. The model (grid/corrector.py) is refitted on every call: a fit
of 28 days of hours costs milliseconds, less than the fetch. With too little history the
raw forecast is returned, saying why.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from gridwait.errors import ProviderError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.chain import to_rows
from gridwait.grid.corrector import CorrectorSettings, Method, RollingCorrector, errors_until
from gridwait.grid.series import FloatArray, IntensitySeries
from gridwait.store.engine import Store
from gridwait.store.intensity import save_points
from gridwait.store.intensity_history import (
    first_forecast_start,
    insert_new_points,
    known_actuals,
    known_forecasts,
    last_actual_start,
)

log = logging.getLogger(__name__)
HISTORY = timedelta(days=28)
"""The rolling window the model is fitted on."""
LEADS = timedelta(hours=48)
"""Leads fitted; later ones use the last (the decay has died out by then)."""
MIN_HISTORY = timedelta(hours=48)
"""Fewer (error, next error) pairs than this much time gives: the raw forecast."""


NAMES: dict[Method, str] = {
    "persistence": "error persistence",
    "stacked": "stacked: forecast, latest error, same-hour actual",
}


def settings_for(resolution: timedelta, method: Method = "persistence") -> CorrectorSettings:
    """The corrector's settings in periods of `resolution` (an hour: its defaults)."""
    return CorrectorSettings(
        method=method,
        window=max(1, round(HISTORY / resolution)),
        leads=max(1, round(LEADS / resolution)),
        min_pairs=max(2, round(MIN_HISTORY / resolution)),
        risk_quantile=0.5,  # the median: the planner applies the risk rule (planner/signal.py)
    )


def correct_live(
    store: Store,
    provider: IntensityProvider,
    raw: IntensitySeries,
    now: datetime,
    method: Method = "persistence",
) -> IntensitySeries:
    """`raw` (the provider's newest forecast, from the period holding `now`) corrected
    from the stored history known at `now`, with its band; `raw` itself, with the reason
    in `correction`, where there is too little history. A stand-in forecast (`fallback`)
    is returned as it is: its errors are not the provider's."""
    if raw.fallback or raw.kind != "forecast" or not len(raw):
        return raw
    settings = settings_for(raw.resolution, method)
    with store.write() as session:  # this forecast is history for the next passes
        insert_new_points(session, to_rows(raw, now))
    _fetch_actuals(store, provider, raw, now, settings)
    actual, forecast = _history(store, raw, now, settings)
    known = len(actual)
    errors = errors_until(actual, forecast, known)
    pairs = int(np.count_nonzero(~np.isnan(errors[:-1]) & ~np.isnan(errors[1:])))
    if pairs < settings.min_pairs:
        hours = MIN_HISTORY / timedelta(hours=1)
        why = (
            f"raw forecast: too little stored history to correct it ({pairs} error pairs in"
            f" the last {HISTORY.days} d, needs {settings.min_pairs}: {hours:.0f} h of"
            " stored forecasts and actuals)"
        )
        return replace(raw, correction=why)
    day = max(1, round(timedelta(days=1) / raw.resolution))
    corrector = RollingCorrector(actual, forecast, settings, refit=1, day=day)
    fixed = corrector.at(known, known + len(raw))
    return replace(
        raw,
        values=np.clip(fixed.quantile, 0.0, None),
        lower=np.clip(fixed.lower, 0.0, None),
        upper=np.clip(fixed.upper, 0.0, None),
        band=settings.band,
        correction=f"corrected forecast ({NAMES[method]}, {HISTORY.days} d of stored"
        f" history, {pairs} error pairs)",
    )


def _fetch_actuals(
    store: Store,
    provider: IntensityProvider,
    raw: IntensitySeries,
    now: datetime,
    settings: CorrectorSettings,
) -> None:
    """Store the provider's actuals of the periods since the newest stored one (and since
    the first stored forecast: earlier ones have no error to give), up to the period
    holding `now`. A failure is logged and a stand-in ignored: the stored ones still serve."""
    key, step = (raw.source, raw.zone), raw.resolution
    since = raw.start - step * settings.window
    with store.read() as session:
        last = last_actual_start(session, key, step, now)
        covered = first_forecast_start(session, key, step, since, now)
    if last is not None:  # from the newest stored actual on
        since = max(since, last + step)
    if covered is not None:  # and only where a stored forecast has an error to give
        since = max(since, covered)
    if since >= raw.start:
        return
    try:
        fresh = provider.actual(raw.zone, since, raw.start)
    except ProviderError as exc:
        log.warning("no fresh actuals for the forecast corrector: %s", exc)
        return
    if fresh.fallback or fresh.source != raw.source:
        return  # a stand-in (the built-in profile) is no measurement of this forecast's errors
    rows = [r for r in to_rows(fresh, now) if r["start"] + step <= now]
    with store.write() as session:
        save_points(session, rows)


def _history(
    store: Store, raw: IntensitySeries, now: datetime, settings: CorrectorSettings
) -> tuple[FloatArray, FloatArray]:
    """(actuals of the window's periods, the past forecasts followed by `raw`) on `raw`'s
    grid: the window is the `settings.window` periods before `raw.start`; NaN where
    nothing is stored."""
    key, step = (raw.source, raw.zone), raw.resolution
    known = settings.window
    first = raw.start - step * known
    with store.read() as session:
        actuals = known_actuals(session, key, step, first, now)
        past = known_forecasts(session, key, step, (first, raw.start), now)
    actual = np.full(known, np.nan)
    forecast = np.concatenate([np.full(known, np.nan), raw.values])
    for target, points in ((actual, actuals), (forecast, past)):
        for when, value in points:
            index = (when - first) / step
            if index == int(index) and 0 <= index < known:  # off-grid points are skipped
                target[int(index)] = value
    return actual, forecast
