"""A trace with a known error process, and a store holding the forecasts a service polling
it would have stored: the live corrector's inputs, built for real (a TraceProvider, a
SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from gridwait.grid.chain import to_rows
from gridwait.grid.trace import Trace, TraceProvider
from gridwait.store.engine import Store
from gridwait.store.intensity_history import insert_new_points

H = timedelta(hours=1)
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
DAYS = 40
PHI = 0.9
"""Lag-1 autocorrelation of the forecast's error: like the DACF traces' (0.73-0.94)."""


def error_trace(seed: int = 7, start: datetime = START) -> Trace:
    """Hourly actuals from `start` = a daily cycle + an AR(1) error of decay PHI; the `forecast`
    column is the cycle alone, so the forecast's error is exactly that process."""
    hours = np.arange(DAYS * 24)
    cycle = 300 + 100 * np.sin(2 * np.pi * hours / 24)
    rng = np.random.default_rng(seed)
    error = np.zeros(len(hours))
    for i in range(1, len(hours)):
        error[i] = PHI * error[i - 1] + rng.normal(0, 15)
    return Trace(
        "synthetic", start, H, np.clip(cycle + error, 1, None), {"forecast": cycle}, "actual"
    )


def write_csv(trace: Trace, path: Path) -> Path:
    """The trace as a CSV file the trace provider reads (time, actual, forecast)."""
    rows = ["time,carbon_intensity,forecast"] + [
        f"{(trace.start + i * H).isoformat()},{a:.3f},{f:.3f}"
        for i, (a, f) in enumerate(zip(trace.actual, trace.columns["forecast"], strict=True))
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def provider(trace: Trace) -> TraceProvider:
    return TraceProvider(trace, "column:forecast", horizon=timedelta(hours=48), zone="Z")


def record_forecasts(store: Store, source: TraceProvider, first: datetime, until: datetime) -> int:
    """Store the forecast a service would have fetched every 6 h from `first` to `until`
    (exclusive), each at its issue time; returns how many."""
    count, at = 0, first
    while at < until:
        series = source.forecast("Z", at, at + 48 * H)
        with store.write() as session:
            insert_new_points(session, to_rows(series, at))
        count, at = count + 1, at + 6 * H
    return count
