"""Faults: what a provider does with timeouts, dead servers, errors and bad payloads.
The behaviour table in the issue note is this file."""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gridwait.clock import ManualClock
from gridwait.errors import (
    ProviderAuthError,
    ProviderDataError,
    ProviderError,
    ProviderNoData,
    ProviderRateLimited,
    ProviderUnavailable,
)
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.http import HttpClient, HttpPolicy
from gridwait.grid.uk import UKProvider
from gridwait.grid.watttime import WattTimeProvider
from tests.grid.conftest import built_em_forecast_72h, built_watttime_forecast, em_time

T0 = datetime(2024, 3, 6, 19, tzinfo=UTC)
PATH = "/v3/carbon-intensity/forecast"
TOKEN = "SECRET-TOKEN-42"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def provider(
    url: str, sleeps: Sleeps, retries: int = 2, timeout: float = 2.0
) -> ElectricityMapsProvider:
    client = HttpClient(
        "electricitymaps",
        url,
        sleep=sleeps,
        policy=HttpPolicy(timeout_s=timeout, retries=retries),
        rng=random.Random(1),
    )
    return ElectricityMapsProvider(client, TOKEN, ManualClock(T0))


def ask(server: HTTPServer, sleeps: Sleeps, **kw: Any) -> Any:
    return provider(server.url_for("/v3"), sleeps, **kw).forecast("DE", T0, T0 + timedelta(hours=6))


def good() -> dict[str, Any]:
    return built_em_forecast_72h(T0)


def test_server_that_hangs_past_the_timeout() -> None:
    def hang(request: Request) -> Response:
        time.sleep(1.0)
        return Response("{}")

    server = HTTPServer(threaded=True)  # its own server: the hung handlers finish after the test
    server.expect_request(PATH).respond_with_handler(hang)
    server.start()
    try:
        sleeps = Sleeps()
        started = time.monotonic()
        with pytest.raises(
            ProviderUnavailable, match=r"no answer within 0.2 s \(after 2 attempts\)"
        ):
            ask(server, sleeps, retries=1, timeout=0.2)
        assert time.monotonic() - started < 3
        assert len(sleeps) == 1
    finally:
        server.clear()
        server.stop()


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    with pytest.raises(ProviderUnavailable, match="cannot connect"):
        provider(f"http://127.0.0.1:{port}/v3", sleeps).forecast("DE", T0, T0 + timedelta(hours=1))
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 1.0  # backoff grows (jitter 0.5x-1.5x on a doubling base)


def test_5xx_is_retried_with_backoff_and_jitter(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json({"error": "boom"}, status=503)
    httpserver.expect_ordered_request(PATH).respond_with_json({"error": "boom"}, status=502)
    httpserver.expect_ordered_request(PATH).respond_with_json(good())
    sleeps = Sleeps()
    series = ask(httpserver, sleeps)
    assert len(series) == 6 and len(httpserver.log) == 3
    assert 0.25 <= sleeps[0] <= 0.75 and 0.5 <= sleeps[1] <= 1.5


def test_5xx_retries_are_bounded(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json({"error": "down"}, status=500)
    with pytest.raises(ProviderUnavailable, match="server error 500: down"):
        ask(httpserver, Sleeps())
    assert len(httpserver.log) == 3


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ProviderError),
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (404, ProviderNoData),
        (422, ProviderError),
    ],
)
def test_other_4xx_are_not_retried(httpserver: HTTPServer, status: int, error: type) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"status": "error", "message": "nope"}, status=status
    )
    sleeps = Sleeps()
    with pytest.raises(error, match=f"HTTP {status}: nope"):
        ask(httpserver, sleeps)
    assert len(httpserver.log) == 1 and sleeps == []


def test_429_honours_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_response(
        Response("{}", status=429, headers={"Retry-After": "7"})
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(good())
    sleeps = Sleeps()
    assert len(ask(httpserver, sleeps)) == 6
    assert sleeps == [7.0]


def test_429_with_a_long_wait_gives_up(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_response(
        Response("{}", status=429, headers={"Retry-After": "3600"})
    )
    sleeps = Sleeps()
    with pytest.raises(ProviderRateLimited, match="Retry-After 3600 s"):
        ask(httpserver, sleeps)
    assert sleeps == []


def _items(n: int = 6) -> list[dict[str, Any]]:
    return [
        {"carbonIntensity": 300 + i, "datetime": em_time(T0 + timedelta(hours=i))} for i in range(n)
    ]


BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    ("truncated JSON", json.dumps(good()).encode()[:300], "invalid JSON"),
    ("HTML instead of JSON", b"<html><body>502 Bad Gateway</body></html>", "invalid JSON"),
    (
        "NaN literal",
        json.dumps(
            {"forecast": [{"carbonIntensity": float("nan"), "datetime": em_time(T0)}]}
        ).encode(),
        "NaN is not a number",
    ),
    (
        "NaN as a string",
        json.dumps({"forecast": [{"carbonIntensity": "NaN", "datetime": em_time(T0)}]}).encode(),
        "expected a number",
    ),
    (
        "value of 1e308",
        json.dumps({"forecast": [{"carbonIntensity": 1e308, "datetime": em_time(T0)}]}).encode(),
        r"forecast\[0\].carbonIntensity at 2024-03-06T19:00:00\+00:00: intensity 1e\+308 is not"
        r" physically possible",
    ),
    (
        "value overflowing to infinity",
        b'{"forecast": [{"carbonIntensity": 1e999, "datetime": "2024-03-06T19:00:00.000Z"}]}',
        "inf is not a finite number",
    ),
    (
        "value as a string",
        json.dumps({"forecast": [{"carbonIntensity": "300", "datetime": em_time(T0)}]}).encode(),
        "expected a number, got '300'",
    ),
    (
        "value as a bool",
        json.dumps({"forecast": [{"carbonIntensity": True, "datetime": em_time(T0)}]}).encode(),
        "expected a number",
    ),
    (
        "negative value",
        json.dumps({"forecast": [{"carbonIntensity": -5, "datetime": em_time(T0)}]}).encode(),
        "negative intensity",
    ),
    (
        "missing value",
        json.dumps({"forecast": [{"datetime": em_time(T0)}]}).encode(),
        "missing field 'carbonIntensity'",
    ),
    (
        "missing time",
        json.dumps({"forecast": [{"carbonIntensity": 5}]}).encode(),
        "missing field 'datetime'",
    ),
    ("missing forecast list", json.dumps({"zone": "DE"}).encode(), "missing field 'forecast'"),
    ("forecast not a list", json.dumps({"forecast": {"a": 1}}).encode(), "expected a list"),
    ("empty forecast", json.dumps({"forecast": []}).encode(), "no forecast data"),
    ("a list at the top", json.dumps([1, 2]).encode(), "missing field 'forecast'"),
    (
        "duplicated timestamps",
        json.dumps({"forecast": _items(2) + _items(1)}).encode(),
        "out of order|duplicated",
    ),
    (
        "same time twice in a row",
        json.dumps({"forecast": [_items(1)[0], _items(1)[0]]}).encode(),
        "duplicated timestamp",
    ),
    (
        "unsorted timestamps",
        json.dumps({"forecast": list(reversed(_items(3)))}).encode(),
        "out of order",
    ),
    (
        "timestamp without zone",
        json.dumps(
            {"forecast": [{"carbonIntensity": 5, "datetime": "2024-03-06T19:00:00"}]}
        ).encode(),
        "has no time zone",
    ),
    (
        "timestamp not a time",
        json.dumps({"forecast": [{"carbonIntensity": 5, "datetime": "yesterday"}]}).encode(),
        "not an ISO 8601 time",
    ),
    (
        "timestamps off the grid",
        json.dumps(
            {
                "forecast": [
                    _items(1)[0],
                    {"carbonIntensity": 5, "datetime": "2024-03-06T20:00:00.000Z"},
                    {"carbonIntensity": 5, "datetime": "2024-03-06T20:20:00.000Z"},
                ],
                "temporalGranularity": "hourly",
            }
        ).encode(),
        "not on a",
    ),
    (
        "forecast for another time",
        json.dumps(
            {"forecast": [{"carbonIntensity": 5, "datetime": "2019-01-01T00:00:00.000Z"}]}
        ).encode(),
        "not the requested",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "message"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS]
)
def test_malformed_payloads_raise_provider_errors(
    httpserver: HTTPServer, case: str, body: bytes, message: str
) -> None:
    httpserver.expect_request(PATH).respond_with_data(body, content_type="application/json")
    with pytest.raises(ProviderError, match=message) as info:
        ask(httpserver, Sleeps())
    assert isinstance(info.value, ProviderDataError | ProviderNoData), case
    assert str(info.value).startswith("electricitymaps: ")


def test_token_never_leaks(httpserver: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Request] = []

    def fail(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"error": "Invalid auth-token"}), status=503)

    httpserver.expect_request(PATH).respond_with_handler(fail)
    with pytest.raises(ProviderUnavailable) as info:
        ask(httpserver, Sleeps())
    assert seen[0].headers["auth-token"] == TOKEN  # it was sent...
    assert TOKEN not in str(info.value)  # ...but never shown
    assert TOKEN not in caplog.text


def test_the_old_keyword_signature_still_builds_a_policy() -> None:
    client = HttpClient("uk", "http://x", timeout_s=3, retries=1, sleep=Sleeps())
    assert client.policy == HttpPolicy(timeout_s=3, retries=1)
    assert client.policy.total_s == 3 * 2 + 1.5 * 0.5  # two reads and the longest backoff
    with pytest.raises(TypeError, match="not both"):
        HttpClient("uk", "http://x", sleep=Sleeps(), policy=HttpPolicy(), retries=1)


UK_START = datetime(2017, 10, 1, 11, 30, tzinfo=UTC)


def _uk_periods(value: float) -> dict[str, Any]:
    periods = []
    for i in range(4):
        begin = UK_START + timedelta(minutes=30 * i)
        periods.append(
            {
                "from": begin.strftime("%Y-%m-%dT%H:%MZ"),
                "to": (begin + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                "intensity": {"forecast": value if i == 1 else 200, "actual": None},
            }
        )
    return {"data": periods}


@pytest.mark.parametrize(("value", "ok"), [(5000.0, True), (5000.1, False), (1e308, False)])
def test_uk_intensities_are_bounded(httpserver: HTTPServer, value: float, ok: bool) -> None:
    httpserver.expect_request("/intensity/2017-10-01T11:30Z/fw48h").respond_with_json(
        _uk_periods(value)
    )
    client = HttpClient("uk", httpserver.url_for(""), sleep=Sleeps(), policy=HttpPolicy())
    uk = UKProvider(client, ManualClock(UK_START))
    if ok:
        assert max(uk.forecast("national", UK_START, UK_START + timedelta(hours=2)).values) == value
        return
    with pytest.raises(
        ProviderDataError,
        match=rf"^uk: data\[1\].intensity.forecast at 2017-10-01T12:00:00\+00:00: intensity"
        rf" {re.escape(repr(value))} is not physically possible",
    ):
        uk.forecast("national", UK_START, UK_START + timedelta(hours=2))


@pytest.mark.parametrize(
    ("lbs", "error"),
    [
        (11000.0, None),  # 4,989.5 g/kWh: the bound applies to the converted value
        (11050.0, r"intensity 11050.0 \(= 5012.2 gCO2eq/kWh\) is not physically possible"),
        (1e308, r"intensity 1e\+308 \(= 4.53592e\+307 gCO2eq/kWh\) is not physically possible"),
    ],
)
def test_watttime_intensities_are_bounded_in_g_per_kwh(
    httpserver: HTTPServer, lbs: float, error: str | None
) -> None:
    start = datetime(2022, 7, 15, tzinfo=UTC)
    body = built_watttime_forecast(start)
    body["data"][3]["value"] = lbs
    httpserver.expect_request("/login").respond_with_json({"token": "jwt"})
    httpserver.expect_request("/v3/forecast").respond_with_json(body)
    client = HttpClient("watttime", httpserver.url_for(""), sleep=Sleeps(), policy=HttpPolicy())
    watttime = WattTimeProvider(client, "user", "pw", ManualClock(start))
    if error is None:
        series = watttime.forecast("CAISO_NORTH", start, start + timedelta(hours=1))
        assert max(series.values) == pytest.approx(11000 * 0.45359237)
        return
    with pytest.raises(
        ProviderDataError,
        match=r"^watttime: data\[3\].value at 2022-07-15T00:15:00\+00:00: " + error,
    ):
        watttime.forecast("CAISO_NORTH", start, start + timedelta(hours=1))
