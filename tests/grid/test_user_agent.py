"""Every provider request names gridwait and its version in User-Agent, checked on the
requests a local HTTP server receives."""

from __future__ import annotations

import random
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

from pytest_httpserver import HTTPServer

from gridwait.clock import ManualClock
from gridwait.config import Settings
from gridwait.grid.factory import base_provider
from gridwait.grid.http import HttpClient, HttpPolicy
from gridwait.grid.uk import UKProvider
from gridwait.grid.watttime import WattTimeProvider
from tests.grid.conftest import built_watttime_forecast
from tests.grid.test_faults import T0

AGENT = f"gridwait/{version('gridwait')} (+https://github.com/gridwait/gridwait)"


def client(server: HTTPServer, provider: str = "uk") -> HttpClient:
    return HttpClient(
        provider,
        server.url_for("/"),
        sleep=lambda _: None,
        policy=HttpPolicy(timeout_s=2.0, retries=0),
        rng=random.Random(1),
    )


def test_get_json_sends_the_user_agent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ping", headers={"User-Agent": AGENT}).respond_with_json({"ok": 1})
    assert client(httpserver).get_json("ping") == {"ok": 1}
    (request, _), *_ = httpserver.log
    assert request.headers["User-Agent"] == AGENT


def test_every_request_of_a_provider_sends_it(httpserver: HTTPServer) -> None:
    """WattTime's login and its forecast: both through the one session."""
    httpserver.expect_request("/login").respond_with_json({"token": "jwt"})
    httpserver.expect_request("/v3/forecast").respond_with_json(built_watttime_forecast(T0))
    provider = WattTimeProvider(client(httpserver, "watttime"), "ada", "pw", ManualClock(T0))
    provider.forecast("CAISO_NORTH", T0, T0 + timedelta(hours=1))
    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/login", "/v3/forecast"]
    assert {request.headers.get("User-Agent") for request, _ in httpserver.log} == {AGENT}


def test_a_session_passed_in_gets_it_too(httpserver: HTTPServer) -> None:
    import requests

    httpserver.expect_request("/ping").respond_with_json({})
    session = requests.Session()
    HttpClient("uk", httpserver.url_for("/"), sleep=lambda _: None, session=session).get_json(
        "ping"
    )
    assert httpserver.log[0][0].headers["User-Agent"] == AGENT


def test_the_configured_provider_sends_it(httpserver: HTTPServer, tmp_path: Path) -> None:
    """The client grid/factory.py builds from the settings, as the CLI and service use it."""
    httpserver.expect_request("/ping").respond_with_json({})
    settings = Settings(db=tmp_path / "g.db", uk_url=httpserver.url_for("/"))
    provider = base_provider(settings, ManualClock(T0), "uk")
    assert isinstance(provider, UKProvider)
    provider.http.get_json("ping")
    assert httpserver.log[0][0].headers["User-Agent"] == AGENT
