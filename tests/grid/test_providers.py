"""Provider details: request shapes, units, chunking, answer shapes, auth."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gridwait.clock import ManualClock
from gridwait.errors import ProviderAuthError, ProviderNoData
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.uk import REGIONAL_ACTUAL_NOTE, UKProvider
from gridwait.grid.watttime import G_PER_KWH_PER_LB_PER_MWH, WattTimeProvider
from tests.grid.conftest import built_em_forecast_72h, em_time, recorded, recorded_text
from tests.grid.test_contract import http

UTC0 = datetime(2024, 3, 6, 19, tzinfo=UTC)


def em(
    server: HTTPServer, clock: ManualClock | None = None, prefix: str = "/v3"
) -> ElectricityMapsProvider:
    return ElectricityMapsProvider(
        http(server, "electricitymaps", prefix), "SECRET-TOKEN", clock or ManualClock(UTC0)
    )


def test_em_forecast_sends_token_zone_and_horizon(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        built_em_forecast_72h(UTC0)
    )
    series = em(httpserver).forecast("DE", UTC0, UTC0 + timedelta(hours=30))
    request, _ = httpserver.log[0]
    assert request.headers["auth-token"] == "SECRET-TOKEN"
    assert request.args["zone"] == "DE" and request.args["horizonHours"] == "48"
    assert request.args["disableCallerLookup"] == "true"
    assert len(series) == 30 and series.resolution == timedelta(hours=1)
    assert series.issued_at == UTC0 - timedelta(minutes=12)


def test_em_v4_base_url_and_granularity(httpserver: HTTPServer) -> None:
    body = built_em_forecast_72h(UTC0, v4=True)
    httpserver.expect_request("/v4/carbon-intensity/forecast").respond_with_json(body)
    series = em(httpserver, prefix="/v4").forecast("DE", UTC0, UTC0 + timedelta(hours=3))
    assert httpserver.log[0][0].path == "/v4/carbon-intensity/forecast"
    assert series.start == UTC0 and series.resolution == timedelta(hours=1)
    assert series.values.tolist() == [item["carbonIntensity"] for item in body["forecast"][:3]]


def test_em_docs_forecast_example_keeps_its_gap(httpserver: HTTPServer) -> None:
    body = recorded("electricitymaps/voltorb__v3_forecast_DK-DK2_docs-example.json")
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(body)
    start = datetime(2018, 11, 26, 17, tzinfo=UTC)
    series = em(httpserver, ManualClock(start)).forecast("DK-DK2", start, start + timedelta(days=3))
    assert series.values[0] == 326 and series.values[1] == 297 and series.values[-1] == 194
    assert np.isnan(series.values[2]) and series.known() == 3  # the gap stays a gap


def test_em_past_range_is_chunked_in_ten_days(httpserver: HTTPServer) -> None:
    body = recorded("electricitymaps/if-electricitymaps__v3_past-range_DK-DK2.json")

    def chunk(request: Request) -> Response:
        """The recorded items, moved to the start of the requested chunk."""
        first = datetime.fromisoformat(request.args["start"])
        items = [
            {**item, "datetime": em_time(first + timedelta(hours=i))}
            for i, item in enumerate(body["data"])
        ]
        return Response(json.dumps({**body, "data": items}), content_type="application/json")

    httpserver.expect_request("/v3/carbon-intensity/past-range").respond_with_handler(chunk)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    series = em(httpserver, ManualClock(datetime(2025, 1, 1, tzinfo=UTC))).actual(
        "DK-DK2", start, start + timedelta(days=25)
    )
    ranges = [(r.args["start"], r.args["end"]) for r, _ in httpserver.log]
    assert ranges == [
        ("2024-03-01T00:00:00.000Z", "2024-03-11T00:00:00.000Z"),
        ("2024-03-11T00:00:00.000Z", "2024-03-21T00:00:00.000Z"),
        ("2024-03-21T00:00:00.000Z", "2024-03-26T00:00:00.000Z"),
    ]
    assert all(r.args["emissionFactorType"] == "lifecycle" for r, _ in httpserver.log)
    assert list(series.values[:2]) == [161, 167]
    assert series.values[240] == 161 and np.isnan(series.values[2])


def test_em_recent_actuals_come_from_history_with_float_values(httpserver: HTTPServer) -> None:
    body = recorded("electricitymaps/zeus__v3_history_US-MIDW-MISO_2024-11-30.json")
    body["history"][0]["carbonIntensity"] = 58.765447504659946  # newer answers send floats
    httpserver.expect_request("/v3/carbon-intensity/history").respond_with_json(body)
    now = datetime(2024, 12, 1, 6, tzinfo=UTC)
    series = em(httpserver, ManualClock(now)).actual("US-MIDW-MISO", now - timedelta(hours=24), now)
    assert len(series) == 24 and series.values[0] == pytest.approx(58.7654475)


def test_em_latest(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v3/carbon-intensity/latest").respond_with_json(
        recorded("electricitymaps/aioelectricitymaps__latest_carbon_intensity.json")
    )
    series = em(httpserver).latest("US-CAR-DUK")
    assert series.values.tolist() == [216.0] and series.start == UTC0


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (401, {"error": "Invalid auth-token"}, ProviderAuthError, "Invalid auth-token"),
        (
            404,
            {"status": "error", "message": "No data for zone"},
            ProviderNoData,
            "No data for zone",
        ),
        (
            404,
            recorded("electricitymaps/zeus__v3_latest_error_no_recent_data.json"),
            ProviderNoData,
            "No recent data",
        ),
    ],
)
def test_em_error_dialects(
    httpserver: HTTPServer, status: int, body: dict[str, object], error: type, text: str
) -> None:
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        body, status=status
    )
    with pytest.raises(error) as info:
        em(httpserver).forecast("DE", UTC0, UTC0 + timedelta(hours=2))
    assert text in str(info.value) and str(info.value).startswith("electricitymaps:")
    assert "SECRET-TOKEN" not in str(info.value)


def test_uk_regional_postcode_answer_is_an_object(httpserver: HTTPServer) -> None:
    body = recorded(
        "uk-carbon-intensity/jscruz__regional_intensity_fw48h_postcode_BH1_2020-05-19.json"
    )
    httpserver.expect_request(
        "/regional/intensity/2020-05-19T20:00Z/fw48h/postcode/BH1"
    ).respond_with_json(body)
    start = datetime(2020, 5, 19, 20, 10, tzinfo=UTC)
    provider = UKProvider(http(httpserver, "uk"), ManualClock(start))
    series = provider.forecast("postcode:bh1", start, start + timedelta(hours=24))
    assert series.values[0] == 307 and series.resolution == timedelta(minutes=30)
    assert series.start == datetime(2020, 5, 19, 20, tzinfo=UTC)


def test_uk_regional_actuals_are_labelled(httpserver: HTTPServer) -> None:
    body = recorded(
        "uk-carbon-intensity/jscruz__regional_intensity_fw48h_postcode_BH1_2020-05-19.json"
    )
    httpserver.expect_request(
        "/regional/intensity/2020-05-19T20:00Z/2020-05-19T22:00Z/regionid/11"
    ).respond_with_json(body)
    start = datetime(2020, 5, 19, 20, tzinfo=UTC)
    provider = UKProvider(http(httpserver, "uk"), ManualClock(start))
    series = provider.actual("regionid:11", start, start + timedelta(hours=2))
    assert series.note == REGIONAL_ACTUAL_NOTE and len(series) == 4


def test_uk_actual_skips_unpublished_periods(httpserver: HTTPServer) -> None:
    body = recorded("uk-carbon-intensity/jscruz__intensity_fw24h_national_2017-10-01.json")
    for item in body["data"][4:]:
        item["intensity"]["actual"] = None  # not published yet
    httpserver.expect_request("/intensity/2017-10-01T11:30Z/2017-10-01T20:00Z").respond_with_json(
        body
    )
    start = datetime(2017, 10, 1, 11, 30, tzinfo=UTC)
    series = UKProvider(http(httpserver, "uk"), ManualClock(start)).actual(
        "national", start, start + timedelta(hours=8.5)
    )
    assert series.known() == 4 and len(series) == 4


def test_uk_range_chunks_of_fourteen_days(httpserver: HTTPServer) -> None:
    def periods(request: Request) -> Response:
        """Like the real API: from the half hour ENDING at `from` to `to`, so neighbouring
        chunks share one period."""
        first, last = (datetime.fromisoformat(p) for p in request.path.split("/")[2:4])
        items, when = [], first - timedelta(minutes=30)
        while when < last:
            items.append(
                {
                    "from": when.strftime("%Y-%m-%dT%H:%MZ"),
                    "intensity": {"forecast": 200, "actual": 190 + when.hour},
                }
            )
            when += timedelta(minutes=30)
        return Response(json.dumps({"data": items}), content_type="application/json")

    httpserver.expect_request(re.compile("/intensity/.*")).respond_with_handler(periods)
    start = datetime(2017, 9, 10, tzinfo=UTC)
    end = datetime(2017, 10, 2, tzinfo=UTC)
    series = UKProvider(http(httpserver, "uk"), ManualClock(start)).actual("national", start, end)
    assert series.start == start and series.end == end and series.known() == len(series) == 22 * 48
    assert [r.path for r, _ in httpserver.log] == [
        "/intensity/2017-09-10T00:00Z/2017-09-24T00:00Z",
        "/intensity/2017-09-24T00:00Z/2017-10-02T00:00Z",
    ]


def test_uk_unknown_zone() -> None:
    provider = UKProvider(None, ManualClock(UTC0))  # type: ignore[arg-type]  # fails before any request
    with pytest.raises(ProviderNoData, match="unknown zone"):
        provider.forecast("atlantis", UTC0, UTC0 + timedelta(hours=1))


def test_watttime_converts_lbs_per_mwh_and_logs_in(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login").respond_with_json({"token": "jwt-1"})
    httpserver.expect_request("/v3/historical").respond_with_json(
        recorded("watttime/aiowatttime__historical_emissions_response.json")
    )
    start = datetime(2022, 7, 15, tzinfo=UTC)
    provider = WattTimeProvider(http(httpserver, "watttime"), "ada", "pw", ManualClock(start))
    series = provider.actual("CAISO_NORTH", start, start + timedelta(minutes=10))
    assert series.values.tolist() == pytest.approx(
        [870 * G_PER_KWH_PER_LB_PER_MWH, 860 * G_PER_KWH_PER_LB_PER_MWH]
    )
    login, data = httpserver.log[0][0], httpserver.log[1][0]
    assert login.authorization is not None and login.authorization.username == "ada"
    assert data.headers["Authorization"] == "Bearer jwt-1"
    assert data.args["signal_type"] == "co2_moer"


def test_watttime_renews_token_on_403_and_on_expiry(httpserver: HTTPServer) -> None:
    tokens = iter(["t1", "t2", "t3"])
    httpserver.expect_request("/login").respond_with_handler(
        lambda r: Response(f'{{"token": "{next(tokens)}"}}')
    )
    seen = []

    def historical(request: Request) -> Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer t1":
            return Response(
                recorded_text("watttime/aiowatttime__403_forbidden_response.html"), status=403
            )
        return Response(recorded_text("watttime/aiowatttime__historical_emissions_response.json"))

    httpserver.expect_request("/v3/historical").respond_with_handler(historical)
    start = datetime(2022, 7, 15, tzinfo=UTC)
    clock = ManualClock(start)
    provider = WattTimeProvider(http(httpserver, "watttime"), "ada", "pw", clock)
    provider.actual("CAISO_NORTH", start, start + timedelta(minutes=10))
    clock.advance(31 * 60)
    provider.actual("CAISO_NORTH", start, start + timedelta(minutes=10))
    assert seen == ["Bearer t1", "Bearer t2", "Bearer t3"]


def test_watttime_region_from_location(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login").respond_with_json({"token": "jwt"})
    httpserver.expect_request("/v3/region-from-loc").respond_with_json(
        recorded("watttime/aiowatttime__grid_region_response.json")
    )
    provider = WattTimeProvider(http(httpserver, "watttime"), "ada", "pw", ManualClock(UTC0))
    assert provider.region("loc:39.7,-105.0") == "PSCO"
    assert provider.region("loc:39.7,-105.0") == "PSCO"
    assert sum(1 for r, _ in httpserver.log if r.path == "/v3/region-from-loc") == 1


def test_watttime_without_credentials(httpserver: HTTPServer) -> None:
    provider = WattTimeProvider(http(httpserver, "watttime"), None, None, ManualClock(UTC0))
    with pytest.raises(ProviderAuthError, match="GRIDWAIT_WATTTIME_USER"):
        provider.forecast("CAISO_NORTH", UTC0, UTC0 + timedelta(hours=1))


def test_watttime_percentile_units_are_refused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/login").respond_with_json({"token": "jwt"})
    httpserver.expect_request("/v3/forecast").respond_with_json(
        recorded("watttime/aiowatttime__realtime_emissions_response.json")
    )
    provider = WattTimeProvider(http(httpserver, "watttime"), "a", "b", ManualClock(UTC0))
    with pytest.raises(Exception, match="percentile"):
        provider.forecast("PSCO", UTC0, UTC0 + timedelta(hours=1))


def test_em_time_format() -> None:
    assert em_time(UTC0) == "2024-03-06T19:00:00.000Z"
