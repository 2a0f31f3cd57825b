"""The provider contract and the helpers every HTTP provider parses with."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gridwait.errors import ProviderDataError, ProviderNoData
from gridwait.grid.series import IntensitySeries, Kind, SeriesError, Signal, from_points


class IntensityProvider(ABC):
    """A source of carbon intensity for a zone.

    Both methods return an `IntensitySeries` in gCO2eq/kWh whose periods overlap
    [start, end); a forecast may stop short of `end` (its horizon) and carries the time it
    was issued. They raise `ProviderError` subclasses only: `ProviderUnavailable` (network,
    5xx), `ProviderAuthError`, `ProviderRateLimited`, `ProviderDataError` (a malformed
    payload: never a crash, never a silently wrong series) and `ProviderNoData`.
    """

    name: str
    signal: Signal

    @abstractmethod
    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """The newest forecast for [start, end)."""

    @abstractmethod
    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        """Measured (or the provider's final) intensity for [start, end)."""


def field(item: Any, key: str, where: str, provider: str) -> Any:
    if not isinstance(item, Mapping) or key not in item:
        raise ProviderDataError(provider, f"{where}: missing field {key!r}")
    return item[key]


# The highest carbon intensity a grid can have, in gCO2eq/kWh: the single bound every
# provider's values are checked against. The dirtiest generation, lignite, emits about
# 1,200 g/kWh over its life cycle (IPCC AR5 WG3 Annex III puts coal's median at 820); a
# marginal rate is a plant's, so no higher (a coal unit's MOER of ~2,200 lbs/MWh in
# WattTime's unit is ~1,000 g/kWh). 5,000 leaves a margin of four: a value above it is a
# unit or parsing error upstream, not a grid.
MAX_INTENSITY = 5000.0


def number(value: Any, where: str, provider: str, what: str = "value") -> float:
    """A finite, non-negative JSON number (int or float; never a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProviderDataError(provider, f"{where}: expected a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ProviderDataError(provider, f"{where}: {value!r} is not a finite number")
    if result < 0:
        raise ProviderDataError(provider, f"{where}: negative {what} {value!r}")
    return result


def intensity(
    value: Any, where: str, provider: str, at: datetime, to_g_per_kwh: float = 1.0
) -> float:
    """A physically possible intensity in gCO2eq/kWh, for the period starting `at`: a JSON
    number in the provider's unit (`to_g_per_kwh` converts it) within 0 .. MAX_INTENSITY."""
    here = f"{where} at {at.isoformat()}"
    result = number(value, here, provider, "intensity") * to_g_per_kwh
    if result > MAX_INTENSITY:
        converted = "" if to_g_per_kwh == 1.0 else f" (= {result:.6g} gCO2eq/kWh)"
        raise ProviderDataError(
            provider,
            f"{here}: intensity {value!r}{converted} is not physically possible"
            f" (above {MAX_INTENSITY:g} gCO2eq/kWh)",
        )
    return result


def timestamp(value: Any, where: str, provider: str) -> datetime:
    """An ISO 8601 timestamp WITH a zone (Z or an offset)."""
    if not isinstance(value, str):
        raise ProviderDataError(provider, f"{where}: expected a timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProviderDataError(provider, f"{where}: {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ProviderDataError(provider, f"{where}: timestamp {value!r} has no time zone")
    return parsed


def items(value: Any, where: str, provider: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ProviderDataError(provider, f"{where}: expected a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Asked:
    """What a provider method was asked for: `kind` intensity of `zone` over [start, end)."""

    zone: str
    kind: Kind
    start: datetime
    end: datetime


def build_series(
    provider: str,
    signal: Signal,
    points: Sequence[tuple[datetime, float]],
    asked: Asked,
    *,
    resolution: timedelta | None = None,
    issued_at: datetime | None = None,
    note: str | None = None,
) -> IntensitySeries:
    """Validate the (period start, gCO2eq/kWh) points and keep the periods overlapping the
    range asked for."""
    zone, kind = asked.zone, asked.kind
    if not points:
        raise ProviderNoData(provider, f"no {kind} data for {zone}")
    try:
        series = from_points(
            [when for when, _ in points],
            [value for _, value in points],
            zone=zone,
            source=provider,
            signal=signal,
            kind=kind,
            resolution=resolution,
            issued_at=issued_at,
            note=note,
        )
    except SeriesError as exc:
        raise ProviderDataError(provider, f"{kind} for {zone}: {exc}") from None
    if series.end <= asked.start or series.start >= asked.end:
        raise ProviderNoData(
            provider,
            f"{kind} for {zone} covers {series.start.isoformat()} to {series.end.isoformat()},"
            f" not the requested {asked.start.isoformat()} to {asked.end.isoformat()}",
        )
    return series.slice(asked.start, asked.end)


def chunks(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive pieces no longer than `size`."""
    out = []
    cursor = start
    while cursor < end:
        out.append((cursor, min(end, cursor + size)))
        cursor += size
    return out


def merge_chunks(parts: Sequence[Sequence[Any]], key: str) -> list[Any]:
    """Items of consecutive range requests, in order, without the boundary period that
    both neighbours return (the UK API answers from the period ENDING at `from`)."""
    seen: set[Any] = set()
    merged: list[Any] = []
    for index, part in enumerate(parts):
        own: set[Any] = set()
        for item in part:
            marker = item.get(key) if isinstance(item, Mapping) else None
            if index and marker is not None and marker in seen and marker not in own:
                continue
            own.add(marker)
            merged.append(item)
        seen |= own
    return merged
