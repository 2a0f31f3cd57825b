"""Built-in typical days: the offline default provider and the last fallback.

Hour-of-day x month means computed from real traces (see profiles_data.py for each
zone's source). A typical day is not a forecast of today: every series says so in its
note, and a chain that falls back to it says why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from gridwait.errors import ProviderNoData
from gridwait.grid.base import IntensityProvider
from gridwait.grid.profiles_data import PROFILES, SOURCES
from gridwait.grid.series import IntensitySeries, Kind

HOUR = timedelta(hours=1)
_ALIASES = {"national": "GB", "CAISO_NORTH": "US-CAL-CISO", "CAISO": "US-CAL-CISO", "trace": ""}


def profile_zone(zone: str) -> str | None:
    """The built-in zone that stands for `zone` (UK regions -> GB), or None."""
    if zone in PROFILES:
        return zone
    if zone.startswith(("regionid:", "postcode:", "GB-")):
        return "GB"
    alias = _ALIASES.get(zone)
    return alias or None


class ProfileProvider(IntensityProvider):
    name = "profile"
    signal = "average"

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, start, end, "forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(zone, start, end, "actual")

    def _series(self, zone: str, start: datetime, end: datetime, kind: Kind) -> IntensitySeries:
        key = profile_zone(zone)
        if key is None:
            known = ", ".join(sorted(PROFILES))
            raise ProviderNoData(
                self.name, f"no built-in profile for zone {zone!r} (known: {known})"
            )
        first = start.replace(minute=0, second=0, microsecond=0)
        hours = max(1, int(np.ceil((end - first) / HOUR)))
        table = PROFILES[key]
        values = np.array(
            [table[(first + HOUR * i).month - 1][(first + HOUR * i).hour] for i in range(hours)],
            dtype=np.float64,
        )
        basis, source = SOURCES[key]
        return IntensitySeries(
            zone=zone,
            source=self.name,
            signal="average",
            kind=kind,
            start=first,
            resolution=HOUR,
            values=values,
            issued_at=start if kind == "forecast" else None,
            note=f"typical day for {key} ({basis}; {source}), not a measurement of this day",
        )
