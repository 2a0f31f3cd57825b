"""Caching and fallback around a provider.

`CachingProvider` stores every fetched point and answers a repeated request inside the
TTL from the database. `FallbackProvider` turns a failure into the best stand-in, and
the series it returns SAYS it is a stand-in (`fallback`): first a stored forecast fresh
enough, else the built-in profile. If neither exists the original error propagates.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from gridwait.clock import Clock
from gridwait.errors import ProviderError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.profile import ProfileProvider
from gridwait.grid.series import IntensitySeries, Kind, SeriesError, Signal, from_points
from gridwait.store.engine import Store
from gridwait.store.intensity import (
    actual_points,
    forecast_points_before,
    latest_forecast_points,
    save_points,
)
from gridwait.store.models import IntensityPoint

log = logging.getLogger(__name__)


class CachingProvider(IntensityProvider):
    def __init__(
        self, inner: IntensityProvider, store: Store, clock: Clock, ttl: timedelta
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.signal = inner.signal
        self.store = store
        self.clock = clock
        self.ttl = ttl

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        now = self.clock.now()
        with self.store.read() as session:
            cached = _series(
                latest_forecast_points(session, self.name, zone, now - self.ttl), "forecast"
            )
        if cached is not None and cached.start <= start < cached.end:
            return cached.slice(start, end)
        series = self.inner.forecast(zone, start, end)
        self._save(series, now)
        return series

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        now = self.clock.now()
        with self.store.read() as session:
            cached = _series(
                actual_points(session, self.name, zone, start, end, now - self.ttl), "actual"
            )
        if cached is not None and cached.covers(start, end):
            return cached.slice(start, end)
        series = self.inner.actual(zone, start, end)
        self._save(series, now)
        return series

    def _save(self, series: IntensitySeries, now: datetime) -> None:
        with self.store.write() as session:
            save_points(session, to_rows(series, now))


class FallbackProvider(IntensityProvider):
    def __init__(
        self,
        primary: IntensityProvider,
        clock: Clock,
        store: Store | None = None,
        max_age: timedelta = timedelta(hours=24),
        profile: IntensityProvider | None = None,
    ) -> None:
        self.primary = primary
        self.name = primary.name
        self.signal = primary.signal
        self.clock = clock
        self.store = store
        self.max_age = max_age
        self.profile = profile or ProfileProvider()

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        try:
            return self.primary.forecast(zone, start, end)
        except ProviderError as exc:
            stored = self._stored_forecast(zone, start)
            if stored is not None:
                log.warning("%s; using the forecast stored at %s", exc, stored.note)
                reason = f"{stored.note}, because {exc}"
                return stored.slice(start, end).with_fallback(reason)
            return self._profile(zone, start, end, exc, "forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        try:
            return self.primary.actual(zone, start, end)
        except ProviderError as exc:
            return self._profile(zone, start, end, exc, "actual")

    def _stored_forecast(self, zone: str, start: datetime) -> IntensitySeries | None:
        if self.store is None:
            return None
        since = self.clock.now() - self.max_age
        with self.store.read() as session:
            stored = _series(latest_forecast_points(session, self.name, zone, since), "forecast")
        if stored is None or not stored.start <= start < stored.end:
            return None
        return stored

    def _profile(
        self, zone: str, start: datetime, end: datetime, exc: ProviderError, kind: str
    ) -> IntensitySeries:
        try:
            series = (self.profile.forecast if kind == "forecast" else self.profile.actual)(
                zone, start, end
            )
        except ProviderError:
            raise exc from None
        log.warning("%s; using the built-in profile", exc)
        return series.with_fallback(f"built-in profile, because {exc}")


def to_rows(series: IntensitySeries, fetched_at: datetime) -> list[dict[str, Any]]:
    """The known periods of `series` as intensity_points rows."""
    return [
        {
            "provider": series.source,
            "zone": series.zone,
            "signal": series.signal,
            "kind": series.kind,
            "issued_at": series.issued_at,
            "start": when,
            "resolution_s": int(series.resolution_s),
            "value": float(value),
            "fetched_at": fetched_at,
        }
        for when, value in zip(series.times(), series.values, strict=True)
        if not math.isnan(value)  # NaN marks a gap: nothing to store
    ]


def _series(points: Sequence[IntensityPoint], kind: Kind) -> IntensitySeries | None:
    if not points:
        return None
    first = points[0]
    signal: Signal = "marginal" if first.signal == "marginal" else "average"
    try:
        return from_points(
            [p.start for p in points],
            [p.value for p in points],
            zone=first.zone,
            source=first.provider,
            signal=signal,
            kind=kind,
            resolution=timedelta(seconds=first.resolution_s),
            issued_at=first.issued_at,
            note=f"stored {kind} fetched {first.fetched_at.isoformat()}",
        )
    except SeriesError:
        return None  # stored periods of mixed resolution: ask the provider again


def forecast_known_at(
    store: Store, provider: str, zone: str, at: datetime, start: datetime
) -> IntensitySeries | None:
    """The stored forecast that was current at `at` and reaches `start`, if any."""
    with store.read() as session:
        return _series(forecast_points_before(session, provider, zone, at, start), "forecast")
