"""The live corrector fed from a real SQLite store: forecasts stored at their issue
times, actuals fetched from the provider; never a value later than `now`."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.clock import ManualClock
from gridwait.grid.corrector import Method, RollingCorrector, correct, fit_errors
from gridwait.grid.live_correction import correct_live, settings_for
from gridwait.store.engine import Store
from gridwait.store.intensity import save_points
from tests.grid.history import START, H, error_trace, provider, record_forecasts

NOW = START + timedelta(days=31, hours=10, minutes=30)


def store_at(tmp_path: Path) -> Store:
    return Store(tmp_path / "lab.db", ManualClock(NOW))


def test_it_corrects_from_the_stored_history_as_the_corrector_does(tmp_path: Path) -> None:
    """The stored forecasts (issued every 6 h) and the actuals it fetches itself give
    the same numbers as the corrector on the trace's own arrays, cut at `now`."""
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, START + timedelta(days=1), NOW)
    raw = source.forecast("Z", NOW, NOW + 48 * H)
    live = correct_live(store, source, raw, NOW)

    settings = settings_for(H)
    known = math.floor(trace.index(NOW))
    first = known - settings.window
    column = trace.columns["forecast"]
    errors = trace.actual[first:known] - column[first:known]
    model = fit_errors(errors, settings)
    expected = correct(
        trace.actual[first:known],
        column[first : known + len(raw)],
        settings.window,
        model,
        settings,
    )
    assert live.correction is not None and live.correction.startswith("corrected forecast")
    assert live.band == settings.band and live.lower is not None and live.upper is not None
    np.testing.assert_allclose(live.values, np.clip(expected.quantile, 0, None))
    np.testing.assert_allclose(live.upper - live.lower, expected.upper - expected.lower)
    # the fitted decay of the error process (0.9) shows: the next hour moves by most of
    # the latest error, the band is narrow there and wider two days out
    assert 0.8 < model.decay[0] < 1.0
    assert abs(live.values[0] - raw.values[0]) > 0.5 * abs(errors[-1])
    assert (live.upper - live.lower)[0] < (live.upper - live.lower)[-1]


def test_the_stacked_method_is_the_simulations_stacked_corrector(tmp_path: Path) -> None:
    """`forecast_correction = "stacked"` gives what `simulate`'s corrected modes plan on:
    the stacked blend fitted on the same 28 days, from the store's history."""
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, START + timedelta(days=1), NOW)
    raw = source.forecast("Z", NOW, NOW + 48 * H)
    live = correct_live(store, source, raw, NOW, "stacked")

    settings = settings_for(H, "stacked")
    known = math.floor(trace.index(NOW))
    first = known - settings.window
    column = trace.columns["forecast"]
    expected = RollingCorrector(
        trace.actual[first:known], column[first : known + len(raw)], settings, refit=1
    ).at(settings.window, settings.window + len(raw))
    assert live.correction is not None and "stacked" in live.correction
    np.testing.assert_allclose(live.values, np.clip(expected.quantile, 0, None))
    assert not np.allclose(live.values, correct_live(store, source, raw, NOW).values)


def test_it_fetches_the_actuals_of_ended_periods_only(tmp_path: Path) -> None:
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, START + timedelta(days=1), NOW)
    correct_live(store, source, source.forecast("Z", NOW, NOW + 48 * H), NOW)
    with store.read() as session:
        newest = session.connection().exec_driver_sql(
            "SELECT MAX(start), COUNT(*) FROM intensity_points WHERE kind = 'actual'"
        )
        last, count = newest.one()
    assert count == 28 * 24 and last.startswith(f"{NOW - 1.5 * H:%Y-%m-%d %H}")


@pytest.mark.parametrize("method", ["persistence", "stacked"])
def test_poisoned_future_actuals_and_forecasts_change_nothing(
    tmp_path: Path, method: Method
) -> None:
    """Values stored for periods after `now`, or fetched or issued after it, are not read."""
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, START + timedelta(days=1), NOW)
    raw = source.forecast("Z", NOW, NOW + 48 * H)
    before = correct_live(store, source, raw, NOW, method)
    hour = NOW.replace(minute=0)
    row = {"provider": "trace", "zone": "Z", "signal": "average", "resolution_s": 3600}
    # actuals of the period holding now and later ones, as if stored already
    poison = [
        row | {"kind": "actual", "issued_at": None, "start": hour + i * H, "fetched_at": NOW}
        for i in range(48)
    ]
    # forecasts issued after now, and forecasts of past periods fetched after now
    poison += [
        row | {"kind": "forecast", "issued_at": hour + H, "start": hour + i * H}
        for i in range(1, 48)
    ]
    poison += [
        row | {"kind": "forecast", "issued_at": hour - i * H - H / 2, "start": hour - i * H}
        for i in range(1, 28 * 24)
    ]
    for p in poison:
        p.update(value=4999.0, fetched_at=p.get("fetched_at", hour + 2 * H))
    with store.write() as session:
        save_points(session, poison)
    after = correct_live(store, source, raw, NOW, method)
    assert after.band is not None and before.lower is not None and after.lower is not None
    np.testing.assert_array_equal(after.values, before.values)
    np.testing.assert_array_equal(after.lower, before.lower)
    assert after.correction == before.correction


def test_too_little_history_falls_back_to_the_raw_forecast_and_says_so(tmp_path: Path) -> None:
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, NOW - timedelta(hours=30), NOW)  # 30 h: needs 48
    raw = source.forecast("Z", NOW, NOW + 48 * H)
    live = correct_live(store, source, raw, NOW)
    np.testing.assert_array_equal(live.values, raw.values)
    assert live.lower is None and live.band is None
    assert live.correction is not None
    assert live.correction.startswith("raw forecast: too little stored history")
    assert "needs 48" in live.correction
    with store.read() as session:  # actuals only where a stored forecast has an error
        first = session.connection().exec_driver_sql(
            "SELECT MIN(start) FROM intensity_points WHERE kind = 'actual'"
        )
    assert first.scalar().startswith(f"{NOW - 30 * H:%Y-%m-%d %H}")


def test_a_stand_in_forecast_is_left_as_it_is(tmp_path: Path) -> None:
    trace, store = error_trace(), store_at(tmp_path)
    source = provider(trace)
    record_forecasts(store, source, START + timedelta(days=1), NOW)
    raw = source.forecast("Z", NOW, NOW + 48 * H).with_fallback("built-in profile, because down")
    assert correct_live(store, source, raw, NOW) is raw
