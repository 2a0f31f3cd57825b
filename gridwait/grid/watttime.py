"""WattTime v3: marginal operating emissions rate (co2_moer), 5-minute periods.

Login with HTTP Basic gives a bearer token valid for 30 minutes; it is renewed before it
expires and once more on a 401/403. Values come in lbs/MWh and are converted to g/kWh.
Zones are WattTime region names (CAISO_NORTH) or `loc:LAT,LON`, resolved once through
/v3/region-from-loc.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from gridwait.clock import Clock
from gridwait.errors import ProviderAuthError, ProviderDataError
from gridwait.grid.base import (
    Asked,
    IntensityProvider,
    build_series,
    chunks,
    field,
    intensity,
    items,
    number,
    timestamp,
)
from gridwait.grid.http import HttpClient
from gridwait.grid.series import IntensitySeries, Kind

NAME = "watttime"
G_PER_KWH_PER_LB_PER_MWH = 0.45359237
TOKEN_LIFETIME = timedelta(minutes=25)  # WattTime says 30; renew with a margin
HISTORY_MAX = timedelta(days=30)


class WattTimeProvider(IntensityProvider):
    name = NAME
    signal = "marginal"

    def __init__(
        self, http: HttpClient, user: str | None, password: str | None, clock: Clock
    ) -> None:
        self.http = http
        self._credentials = (user, password) if user and password else None
        self.clock = clock
        self._token: str | None = None
        self._token_time: datetime | None = None
        self._regions: dict[str, str] = {}

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        hours = math.ceil((end - self.clock.now()).total_seconds() / 3600)
        body = self._get(
            "v3/forecast",
            region=self.region(zone),
            signal_type="co2_moer",
            horizon_hours=min(72, max(1, hours)),
        )
        meta = field(body, "meta", "forecast", NAME)
        generated = meta.get("generated_at") if isinstance(meta, dict) else None
        issued = timestamp(generated, "meta.generated_at", NAME) if generated else self.clock.now()
        return self._series(body, zone, "forecast", start, end, issued)

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        region = self.region(zone)
        points: list[Any] = []
        body: Any = {}
        for lo, hi in chunks(start, end, HISTORY_MAX):
            body = self._get(
                "v3/historical",
                region=region,
                signal_type="co2_moer",
                start=lo.isoformat(),
                end=hi.isoformat(),
            )
            points.extend(items(field(body, "data", "historical", NAME), "data", NAME))
        return self._series(
            {"data": points, "meta": body.get("meta")}, zone, "actual", start, end, None
        )

    def region(self, zone: str) -> str:
        """A WattTime region name; `loc:LAT,LON` is looked up once and remembered."""
        if not zone.startswith("loc:"):
            return zone
        if zone not in self._regions:
            try:
                lat, lon = (float(x) for x in zone[4:].split(","))
            except ValueError:
                raise ProviderDataError(NAME, f"zone {zone!r}: expected loc:LAT,LON") from None
            body = self._get(
                "v3/region-from-loc", latitude=lat, longitude=lon, signal_type="co2_moer"
            )
            region = field(body, "region", "region-from-loc", NAME)
            if not isinstance(region, str):
                raise ProviderDataError(NAME, f"region-from-loc: region {region!r} is not a name")
            self._regions[zone] = region
        return self._regions[zone]

    def _get(self, path: str, **params: Any) -> Any:
        try:
            return self.http.get_json(path, params=params, headers=self._auth())
        except ProviderAuthError:
            self._token = None  # expired or revoked: log in again, once
            return self.http.get_json(path, params=params, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        now = self.clock.now()
        if (
            self._token is None
            or self._token_time is None
            or now - self._token_time > TOKEN_LIFETIME
        ):
            if self._credentials is None:
                raise ProviderAuthError(
                    NAME, "set GRIDWAIT_WATTTIME_USER and GRIDWAIT_WATTTIME_PASSWORD"
                )
            body = self.http.get_json("login", auth=self._credentials)
            token = field(body, "token", "login", NAME)
            if not isinstance(token, str) or not token:
                raise ProviderDataError(NAME, "login: the answer holds no token")
            self._token, self._token_time = token, now
        return {"Authorization": f"Bearer {self._token}"}

    def _series(
        self,
        body: Any,
        zone: str,
        kind: Kind,
        start: datetime,
        end: datetime,
        issued: datetime | None,
    ) -> IntensitySeries:
        meta = body.get("meta") or {}
        units = meta.get("units", "lbs_co2_per_mwh")
        if units != "lbs_co2_per_mwh":
            raise ProviderDataError(
                NAME, f"{kind}: units {units!r} cannot be turned into gCO2eq/kWh"
            )
        period = meta.get("data_point_period_seconds", 300)
        resolution = timedelta(seconds=number(period, "meta.data_point_period_seconds", NAME))
        points = []
        for i, item in enumerate(items(field(body, "data", kind, NAME), "data", NAME)):
            where = f"data[{i}]"
            when = timestamp(field(item, "point_time", where, NAME), f"{where}.point_time", NAME)
            lbs = field(item, "value", where, NAME)
            grams = intensity(lbs, f"{where}.value", NAME, when, G_PER_KWH_PER_LB_PER_MWH)
            points.append((when, grams))
        asked = Asked(zone, kind, start, end)
        return build_series(
            NAME, "marginal", points, asked, resolution=resolution, issued_at=issued
        )
