"""One contract, every provider: each is fed by a real local HTTP server replaying the
recorded answers (or, for trace and profile, real data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pytest_httpserver import HTTPServer

from gridwait.clock import ManualClock
from gridwait.grid.base import IntensityProvider
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.http import HttpClient
from gridwait.grid.profile import ProfileProvider
from gridwait.grid.trace import TraceProvider, load_trace
from gridwait.grid.uk import UKProvider
from gridwait.grid.watttime import WattTimeProvider
from tests.conftest import SHARED
from tests.grid.conftest import built_em_forecast_72h, built_watttime_forecast, recorded


def http(server: HTTPServer, name: str, prefix: str = "") -> HttpClient:
    return HttpClient(name, server.url_for(prefix), timeout_s=2, retries=0, sleep=lambda s: None)


@dataclass
class Case:
    make: Callable[[HTTPServer], IntensityProvider]
    zone: str
    forecast_range: tuple[datetime, datetime]
    actual_range: tuple[datetime, datetime]
    signal: str


def electricitymaps(server: HTTPServer) -> IntensityProvider:
    start = datetime(2024, 3, 6, 19, tzinfo=UTC)
    server.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        built_em_forecast_72h(start)
    )
    server.expect_request("/v3/carbon-intensity/history").respond_with_json(
        recorded("electricitymaps/aioelectricitymaps__carbon_intensity_history.json")
    )
    return ElectricityMapsProvider(
        http(server, "electricitymaps", "/v3"), "tok", ManualClock(start)
    )


def uk(server: HTTPServer) -> IntensityProvider:
    body = recorded("uk-carbon-intensity/jscruz__intensity_fw24h_national_2017-10-01.json")
    server.expect_request("/intensity/2017-10-01T11:30Z/fw48h").respond_with_json(body)
    server.expect_request("/intensity/2017-10-01T11:30Z/2017-10-01T20:00Z").respond_with_json(body)
    return UKProvider(http(server, "uk"), ManualClock(datetime(2017, 10, 1, 11, 35, tzinfo=UTC)))


def watttime(server: HTTPServer) -> IntensityProvider:
    start = datetime(2022, 7, 15, tzinfo=UTC)
    server.expect_request("/login").respond_with_json({"token": "jwt"})
    server.expect_request("/v3/forecast").respond_with_json(built_watttime_forecast(start))
    server.expect_request("/v3/historical").respond_with_json(
        recorded("watttime/aiowatttime__historical_emissions_response.json")
    )
    return WattTimeProvider(http(server, "watttime"), "user", "pw", ManualClock(start))


def trace(server: HTTPServer) -> IntensityProvider:
    data = load_trace(SHARED / "data" / "traces" / "dacf" / "DE_2021H2_forecast_and_actual.csv")
    return TraceProvider(data, "column:carbon_from_src_forecasts", zone="DE")


def profile(server: HTTPServer) -> IntensityProvider:
    return ProfileProvider()


T = datetime
CASES = {
    "electricitymaps": Case(
        electricitymaps,
        "DE",
        (T(2024, 3, 6, 19, tzinfo=UTC), T(2024, 3, 8, tzinfo=UTC)),
        (T(2024, 3, 5, 20, tzinfo=UTC), T(2024, 3, 6, 12, tzinfo=UTC)),
        "average",
    ),
    "uk": Case(
        uk,
        "national",
        (T(2017, 10, 1, 11, 30, tzinfo=UTC), T(2017, 10, 1, 20, tzinfo=UTC)),
        (T(2017, 10, 1, 11, 30, tzinfo=UTC), T(2017, 10, 1, 20, tzinfo=UTC)),
        "average",
    ),
    "watttime": Case(
        watttime,
        "CAISO_NORTH",
        (T(2022, 7, 15, tzinfo=UTC), T(2022, 7, 15, 2, tzinfo=UTC)),
        (T(2022, 7, 15, tzinfo=UTC), T(2022, 7, 15, 0, 10, tzinfo=UTC)),
        "marginal",
    ),
    "trace": Case(
        trace,
        "DE",
        (T(2021, 8, 2, tzinfo=UTC), T(2021, 8, 4, tzinfo=UTC)),
        (T(2021, 8, 1, tzinfo=UTC), T(2021, 8, 2, tzinfo=UTC)),
        "average",
    ),
    "profile": Case(
        profile,
        "GB",
        (T(2026, 1, 5, 9, tzinfo=UTC), T(2026, 1, 7, tzinfo=UTC)),
        (T(2026, 1, 4, tzinfo=UTC), T(2026, 1, 5, tzinfo=UTC)),
        "average",
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, httpserver: HTTPServer) -> tuple[Case, IntensityProvider]:
    chosen = CASES[request.param]
    return chosen, chosen.make(httpserver)


def _check(series, zone: str, kind: str, start: datetime, end: datetime, signal: str) -> None:  # type: ignore[no-untyped-def]
    assert series.kind == kind and series.zone == zone and series.signal == signal
    assert series.start.tzinfo is not None and series.resolution > timedelta(0)
    assert series.start < end and series.end > start, "the series must overlap the request"
    assert series.start >= start - series.resolution, "no periods long before the request"
    known = series.values[~np.isnan(series.values)]
    assert len(known) > 0
    assert (known >= 0).all() and (known < 3000).all(), "gCO2eq/kWh, not lbs/MWh or kg"
    assert series.fallback is None


def test_forecast_contract(case: tuple[Case, IntensityProvider]) -> None:
    spec, provider = case
    start, end = spec.forecast_range
    series = provider.forecast(spec.zone, start, end)
    _check(series, spec.zone, "forecast", start, end, spec.signal)
    assert series.issued_at is not None and series.issued_at.tzinfo is not None
    assert provider.signal == spec.signal


def test_actual_contract(case: tuple[Case, IntensityProvider]) -> None:
    spec, provider = case
    start, end = spec.actual_range
    series = provider.actual(spec.zone, start, end)
    _check(series, spec.zone, "actual", start, end, spec.signal)
