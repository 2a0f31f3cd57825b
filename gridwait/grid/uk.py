"""UK NESO Carbon Intensity API (api.carbonintensity.org.uk): no key, GB only.

Zones: `national` (or `GB`), `regionid:N` (1-17), `postcode:RG41` (outward code).
Half-hourly average intensity in gCO2/kWh. Forecasts: fw48h. Actuals: national periods
carry `actual` (null where not yet published); regional periods have no actual, so the
regional "actual" is NESO's final forecast of that period, and the series says so.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from gridwait.clock import Clock
from gridwait.errors import ProviderDataError, ProviderNoData
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

NAME = "uk"
HALF_HOUR = timedelta(minutes=30)
RANGE_MAX = timedelta(days=14)
_REGION = re.compile(r"^regionid:(\d{1,2})$")
_POSTCODE = re.compile(r"^postcode:([A-Za-z]{1,2}\d[A-Za-z\d]?)$")
REGIONAL_ACTUAL_NOTE = "regional periods have no measured actual; values are NESO's final forecasts"


class UKProvider(IntensityProvider):
    name = NAME
    signal = "average"

    def __init__(self, http: HttpClient, clock: Clock) -> None:
        self.http = http
        self.clock = clock

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        suffix = _region_suffix(zone)
        prefix = "regional/intensity" if suffix else "intensity"
        body = self.http.get_json(f"{prefix}/{_fmt(_floor(start))}/fw48h{suffix}")
        issued = self.clock.now()
        return self._series(
            _periods(body),
            Asked(zone, "forecast", start, end),
            issued,
            "issue time is the fetch time (NESO revises forecasts every half hour)",
        )

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        suffix = _region_suffix(zone)
        prefix = "regional/intensity" if suffix else "intensity"
        parts = [
            _periods(self.http.get_json(f"{prefix}/{_fmt(lo)}/{_fmt(hi)}{suffix}"))
            for lo, hi in chunks(_floor(start), end, RANGE_MAX)
        ]
        periods = merge_chunks(parts, "from")
        note = REGIONAL_ACTUAL_NOTE if suffix else None
        asked = Asked(zone, "actual", start, end)
        return self._series(periods, asked, None, note, regional=bool(suffix))

    def _series(
        self,
        periods: list[Any],
        asked: Asked,
        issued: datetime | None,
        note: str | None,
        regional: bool = False,
    ) -> IntensitySeries:
        key = "actual" if asked.kind == "actual" and not regional else "forecast"
        points = []
        for i, item in enumerate(periods):
            where = f"data[{i}]"
            reading = field(item, "intensity", where, NAME)
            value = reading.get(key) if isinstance(reading, dict) else None
            if value is None and key == "actual":
                continue  # not published yet: a gap, not an error
            when = timestamp(field(item, "from", where, NAME), f"{where}.from", NAME)
            value = field(reading, key, where, NAME)
            points.append((when, intensity(value, f"{where}.intensity.{key}", NAME, when)))
        if not points:
            raise ProviderNoData(NAME, f"no {asked.kind} intensity for {asked.zone} in the answer")
        return build_series(
            NAME, "average", points, asked, resolution=HALF_HOUR, issued_at=issued, note=note
        )


def _periods(body: Any) -> list[Any]:
    """The list of half-hour periods from any of the answer shapes.

    National answers: {"data": [...]}; one region: {"data": {"regionid", ..., "data": [...]}}
    (an OBJECT, unlike the documentation); all regions: {"data": [{"regionid", "data"}]}.
    """
    data = field(body, "data", "answer", NAME)
    if isinstance(data, dict):
        return list(items(field(data, "data", "data", NAME), "data.data", NAME))
    data = items(data, "data", NAME)
    if len(data) == 1 and isinstance(data[0], dict) and "regionid" in data[0] and "data" in data[0]:
        return list(items(data[0]["data"], "data[0].data", NAME))
    return list(data)


def _region_suffix(zone: str) -> str:
    if zone.lower() in ("national", "gb"):
        return ""
    if match := _REGION.match(zone):
        number_ = int(match.group(1))
        if not 1 <= number_ <= 17:
            raise ProviderDataError(NAME, f"region id {number_} is not between 1 and 17")
        return f"/regionid/{number_}"
    if match := _POSTCODE.match(zone):
        return f"/postcode/{match.group(1).upper()}"
    raise ProviderNoData(NAME, f"unknown zone {zone!r}: use national, regionid:N or postcode:XX")


def _floor(value: datetime) -> datetime:
    return value.replace(minute=0 if value.minute < 30 else 30, second=0, microsecond=0)


def _fmt(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%MZ")
