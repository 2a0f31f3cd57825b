"""`gridwait forecast` against the profile, a trace, and a (local) Electricity Maps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import SHARED, Cli
from tests.grid.conftest import built_em_forecast_72h


def test_profile_forecast_json(cli: Cli) -> None:
    result = cli("forecast", "--zone", "GB", "--hours", "12", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["provider"] == "profile" and data["unit"] == "gCO2eq/kWh"
    assert len(data["points"]) >= 12 and set(data["greenest"]) == {"1h", "2h", "4h", "8h"}
    values = [p["value"] for p in data["points"]]
    one, eight = data["greenest"]["1h"], data["greenest"]["8h"]
    assert min(values) <= one["mean_g_per_kwh"] <= eight["mean_g_per_kwh"] <= max(values)


def test_table_shows_chart_and_best_starts(cli: Cli) -> None:
    result = cli("forecast", "--hours", "10")
    assert result.code == 0
    assert "profile" in result.out and "8 h job" in result.out
    assert any(bar in result.out for bar in "▁▂▃▄▅▆▇█")


def test_trace_provider_from_settings(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = SHARED / "data" / "traces" / "dacf" / "DE_2021H2_forecast_and_actual.csv"
    (tmp_path / "gridwait.toml").write_text(
        f'[grid]\nprovider = "trace"\ntrace = "{trace}"\nforecast = "column:carbon_from_src_forecasts"\n'
        'trace_align = "now"\nzone = "DE"\n'
    )
    result = cli("forecast", "--hours", "24", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["provider"] == "trace" and "column:carbon_from_src_forecasts" in data["note"]


def test_electricitymaps_from_environment(
    cli: Cli, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        built_em_forecast_72h(start)
    )
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_URL", httpserver.url_for("/v3"))
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_TOKEN", "tok-abc")
    result = cli(
        "forecast", "--provider", "electricitymaps", "--zone", "DE", "--hours", "24", "--json"
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["provider"] == "electricitymaps" and data["fallback"] is None
    assert httpserver.log[0][0].headers["auth-token"] == "tok-abc"


def test_a_failing_provider_falls_back_visibly(
    cli: Cli, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        {"error": "Invalid auth-token"}, status=401
    )
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_URL", httpserver.url_for("/v3"))
    result = cli("forecast", "--provider", "electricitymaps", "--zone", "DE")
    assert result.code == 0
    assert (
        "FALLBACK: built-in profile, because electricitymaps: GET /carbon-intensity/forecast: HTTP 401"
        in result.err
    )


def test_unknown_zone_is_one_line(cli: Cli) -> None:
    result = cli("forecast", "--zone", "XX")
    assert result.code == 1 and result.err.startswith(
        "error: profile: no built-in profile for zone 'XX'"
    )
    assert len(result.err.strip().splitlines()) == 1


def test_missing_trace_setting(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "gridwait.toml").write_text('[grid]\nprovider = "trace"\n')
    result = cli("forecast")
    assert result.code == 2 and "grid.trace" in result.err


def test_the_corrected_forecast_and_its_band_beside_the_raw_one(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    """With [grid] forecast_correction on and a month of stored forecasts, `forecast`
    shows the corrected series and its band next to the raw one (table and --json)."""
    from datetime import timedelta

    from gridwait.clock import ManualClock
    from gridwait.store.engine import Store
    from tests.grid.history import error_trace, provider, record_forecasts, write_csv

    now = datetime.now(UTC)
    trace = error_trace(start=now.replace(minute=0, second=0, microsecond=0) - timedelta(days=35))
    path = write_csv(trace, tmp_path / "synthetic.csv")
    (tmp_path / "gridwait.toml").write_text(
        f'[grid]\nprovider = "trace"\ntrace = "{path}"\nforecast = "column:forecast"\n'
        'zone = "Z"\nforecast_correction = "persistence"\nrisk_quantile = 0.7\n'
    )
    store = Store(env, ManualClock(now))
    record_forecasts(store, provider(trace), now - timedelta(days=30), now)

    result = cli("forecast", "--hours", "12", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["correction"].startswith("corrected forecast (error persistence, 28 d")
    assert data["band"] == 0.8 and data["risk_quantile"] == 0.7
    point = data["points"][1]
    assert point["lower"] < point["corrected"] < point["upper"]
    assert point["value"] != point["corrected"]  # the raw one, beside it

    table = cli("forecast", "--hours", "12")
    assert table.code == 0, table.err
    assert "corrected" in table.out and "10%-90% band" in table.out
    assert f"{point['lower']:.0f}-{point['upper']:.0f}" in table.out


def test_a_risk_quantile_beyond_the_band_is_refused_in_one_line(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    (tmp_path / "gridwait.toml").write_text("[grid]\nrisk_quantile = 0.95\n")
    result = cli("forecast", "--hours", "2")
    assert result.code != 0 and not env.exists()
    assert len(result.err.strip().splitlines()) == 1 and "grid.risk_quantile" in result.err
