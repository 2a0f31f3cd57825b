"""Electricity Maps (v3 by default; the base URL can point at v4).

Average, consumption-based intensity in gCO2eq/kWh. The forecast needs a paid plan;
history covers the last 24 h; past-range is cut into chunks of at most 10 days.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from gridwait.clock import Clock
from gridwait.grid.base import (
    Asked,
    IntensityProvider,
    build_series,
    chunks,
    field,
    intensity,
    items,
    merge_chunks,
    timestamp,
)
from gridwait.grid.http import HttpClient
from gridwait.grid.series import IntensitySeries

NAME = "electricitymaps"
PAST_RANGE_MAX = timedelta(hours=240)
HISTORY_SPAN = timedelta(hours=24)
HORIZONS_H = (6, 24, 48, 72)
_GRANULARITY = {
    "5_minutes": timedelta(minutes=5),
    "15_minutes": timedelta(minutes=15),
    "hourly": timedelta(hours=1),
}


class ElectricityMapsProvider(IntensityProvider):
    name = NAME
    signal = "average"

    def __init__(
        self,
        http: HttpClient,
        token: str | None,
        clock: Clock,
        emission_factor_type: str = "lifecycle",
    ) -> None:
        self.http = http
        self._headers = {"auth-token": token} if token else {}
        self.clock = clock
        self.emission_factor_type = emission_factor_type

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        hours = math.ceil((end - self.clock.now()).total_seconds() / 3600)
        horizon = next((h for h in HORIZONS_H if h >= hours), HORIZONS_H[-1])
        body = self._get("carbon-intensity/forecast", zone, horizonHours=horizon)
        points = items(field(body, "forecast", "forecast", NAME), "forecast", NAME)
        updated = body.get("updatedAt") if isinstance(body, dict) else None
        issued = timestamp(updated, "forecast.updatedAt", NAME) if updated else self.clock.now()
        note = None if updated else "issue time is the fetch time (no updatedAt in the answer)"
        return self._series(body, points, Asked(zone, "forecast", start, end), issued, note)

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        now = self.clock.now()
        if start >= now - HISTORY_SPAN:
            body = self._get(
                "carbon-intensity/history", zone, emissionFactorType=self.emission_factor_type
            )
            points = items(field(body, "history", "history", NAME), "history", NAME)
            return self._series(body, points, Asked(zone, "actual", start, end))
        parts, body = [], {}
        for lo, hi in chunks(start, end, PAST_RANGE_MAX):
            body = self._get(
                "carbon-intensity/past-range",
                zone,
                start=_iso(lo),
                end=_iso(hi),
                emissionFactorType=self.emission_factor_type,
            )
            parts.append(items(field(body, "data", "past-range", NAME), "past-range.data", NAME))
        asked = Asked(zone, "actual", start, end)
        return self._series(body, merge_chunks(parts, "datetime"), asked)

    def latest(self, zone: str) -> IntensitySeries:
        body = self._get(
            "carbon-intensity/latest", zone, emissionFactorType=self.emission_factor_type
        )
        when = timestamp(field(body, "datetime", "latest", NAME), "latest.datetime", NAME)
        return self._series(body, [body], Asked(zone, "actual", when, when + timedelta(hours=1)))

    def _get(self, path: str, zone: str, **params: Any) -> Any:
        query = {"zone": zone, "disableCallerLookup": "true", **params}
        return self.http.get_json(path, params=query, headers=self._headers)

    def _series(
        self,
        body: Any,
        entries: list[Any] | Any,
        asked: Asked,
        issued: datetime | None = None,
        note: str | None = None,
    ) -> IntensitySeries:
        points = []
        for i, item in enumerate(entries):
            where = f"{asked.kind}[{i}]"
            when = timestamp(field(item, "datetime", where, NAME), f"{where}.datetime", NAME)
            value = field(item, "carbonIntensity", where, NAME)
            points.append((when, intensity(value, f"{where}.carbonIntensity", NAME, when)))
        return build_series(
            NAME,
            "average",
            points,
            asked,
            resolution=_resolution(body, [when for when, _ in points]),
            issued_at=issued,
            note=note,
        )


def _resolution(body: Any, times: list[datetime]) -> timedelta:
    """The declared granularity (v4 and newer v3 answers), else hourly, the API default,
    unless the timestamps are closer than that."""
    declared = body.get("temporalGranularity") if isinstance(body, dict) else None
    if declared in _GRANULARITY:
        return _GRANULARITY[declared]
    gaps = [b - a for a, b in pairwise(times) if b > a]
    return min([timedelta(hours=1), *gaps])


def _iso(value: datetime) -> str:
    """The strict UTC form the API expects: 2024-03-18T02:00:00.000Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
