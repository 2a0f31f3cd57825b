"""Caching (every point stored, repeats served inside the TTL) and fallbacks that say so."""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from gridwait.clock import ManualClock
from gridwait.errors import ProviderUnavailable
from gridwait.grid.chain import CachingProvider, FallbackProvider
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.http import HttpClient
from gridwait.store.engine import Store
from tests.grid.conftest import built_em_forecast_72h, recorded

T0 = datetime(2024, 3, 6, 19, tzinfo=UTC)
PATH = "/v3/carbon-intensity/forecast"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Store:
    return Store(tmp_path / "g.db", clock)


def chain(server: HTTPServer, store: Store, clock: ManualClock) -> FallbackProvider:
    client = HttpClient(
        "electricitymaps",
        server.url_for("/v3"),
        timeout_s=2,
        retries=0,
        sleep=lambda s: None,
        rng=random.Random(0),
    )
    cached = CachingProvider(
        ElectricityMapsProvider(client, "t", clock), store, clock, timedelta(minutes=30)
    )
    return FallbackProvider(cached, clock, store, timedelta(hours=6))


def test_points_are_stored_with_issue_time(
    httpserver: HTTPServer, store: Store, clock: ManualClock
) -> None:
    httpserver.expect_request(PATH).respond_with_json(built_em_forecast_72h(T0))
    chain(httpserver, store, clock).forecast("DE", T0, T0 + timedelta(hours=24))
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute(
            "SELECT provider, zone, signal, kind, issued_at, resolution_s, COUNT(*) FROM intensity_points GROUP BY 1,2,3,4,5,6"
        ).fetchall()
    assert rows == [
        ("electricitymaps", "DE", "average", "forecast", "2024-03-06 18:48:00.000000", 3600, 24)
    ]


def test_repeat_inside_ttl_is_served_from_the_database(
    httpserver: HTTPServer, store: Store, clock: ManualClock
) -> None:
    httpserver.expect_request(PATH).respond_with_json(built_em_forecast_72h(T0))
    provider = chain(httpserver, store, clock)
    first = provider.forecast("DE", T0, T0 + timedelta(hours=24))
    clock.advance(20 * 60)
    second = provider.forecast("DE", T0 + timedelta(hours=1), T0 + timedelta(hours=24))
    assert len(httpserver.log) == 1
    assert second.values[0] == first.values[1] and second.issued_at == first.issued_at
    clock.advance(15 * 60)  # past the TTL
    provider.forecast("DE", T0 + timedelta(hours=1), T0 + timedelta(hours=24))
    assert len(httpserver.log) == 2


def test_actuals_are_cached_too(httpserver: HTTPServer, store: Store) -> None:
    clock = ManualClock(datetime(2024, 3, 6, 20, tzinfo=UTC))
    httpserver.expect_request("/v3/carbon-intensity/history").respond_with_json(
        recorded("electricitymaps/aioelectricitymaps__carbon_intensity_history.json")
    )
    provider = chain(httpserver, store, clock)
    start = datetime(2024, 3, 5, 22, tzinfo=UTC)
    a = provider.actual("DE", start, start + timedelta(hours=5))
    b = provider.actual("DE", start + timedelta(hours=1), start + timedelta(hours=4))
    assert len(httpserver.log) == 1 and b.values.tolist() == a.values[1:4].tolist()


def test_failure_falls_back_to_a_fresh_stored_forecast(
    httpserver: HTTPServer, store: Store, clock: ManualClock
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(built_em_forecast_72h(T0))
    httpserver.expect_ordered_request(PATH).respond_with_json({"error": "down"}, status=503)
    provider = chain(httpserver, store, clock)
    first = provider.forecast("DE", T0, T0 + timedelta(hours=48))
    clock.advance(2 * 3600)
    second = provider.forecast("DE", T0 + timedelta(hours=2), T0 + timedelta(hours=48))
    assert first.fallback is None
    assert (
        second.fallback is not None
        and "stored forecast fetched 2024-03-06T19:00" in second.fallback
    )
    assert "server error 503" in second.fallback
    assert second.values[0] == first.values[2]


def test_failure_without_a_fresh_forecast_falls_back_to_the_profile(
    httpserver: HTTPServer, store: Store, clock: ManualClock
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(built_em_forecast_72h(T0))
    httpserver.expect_ordered_request(PATH).respond_with_json({"error": "down"}, status=500)
    provider = chain(httpserver, store, clock)
    provider.forecast("DE", T0, T0 + timedelta(hours=48))
    clock.advance(7 * 3600)  # older than fallback_max_age
    series = provider.forecast("DE", clock.now(), clock.now() + timedelta(hours=24))
    assert series.source == "profile" and series.fallback is not None
    assert series.fallback.startswith("built-in profile, because electricitymaps:")


def test_no_stand_in_means_the_error_propagates(
    httpserver: HTTPServer, store: Store, clock: ManualClock
) -> None:
    httpserver.expect_request(PATH).respond_with_json({"error": "down"}, status=500)
    with pytest.raises(ProviderUnavailable):
        chain(httpserver, store, clock).forecast("XX-NOWHERE", T0, T0 + timedelta(hours=2))
