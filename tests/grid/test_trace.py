"""Traces: every format in shared/data loads; forecast modes behave as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.errors import ProviderNoData, TraceError
from gridwait.grid.trace import TraceProvider, load_trace
from tests.conftest import SHARED

TRACES = SHARED / "data" / "traces"
ALL = sorted(p for p in TRACES.rglob("*") if p.suffix in (".csv", ".zip"))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(TRACES)) for p in ALL])
def test_every_shared_trace_loads(path: Path) -> None:
    trace = load_trace(path)
    assert len(trace.actual) >= 48
    known = trace.actual[~np.isnan(trace.actual)]
    assert len(known) > 0.9 * len(trace.actual)
    assert known.min() >= 0 and known.max() < 2000
    assert trace.start.tzinfo is not None


def test_formats_pick_the_right_columns() -> None:
    dacf = load_trace(TRACES / "dacf" / "DE_2021H2_forecast_and_actual.csv")
    assert dacf.value_column == "carbon_intensity" and "carbon_from_src_forecasts" in dacf.columns
    em = load_trace(TRACES / "electricitymaps" / "ES_2022_hourly.csv")
    assert em.value_column == "Carbon Intensity gCO₂eq/kWh (LCA)"
    wt = load_trace(TRACES / "watttime-caiso-north" / "watttime2023_caiso-north.zip")
    assert wt.signal == "marginal" and wt.resolution == timedelta(minutes=5)
    gb = load_trace(TRACES / "lets-wait-awhile" / "gb_ci.csv")
    # 30-minute values until October 2020, 15-minute after: each value covers its own period
    assert gb.resolution == timedelta(minutes=15) and gb.actual[0] == gb.actual[1]
    neso = load_trace(
        TRACES / "gb-neso-forecast-sample" / "national_pt24h" / "2023-03-15T0331Z.csv"
    )
    assert neso.value_column == "intensity.actual"


def test_explicit_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("when,g,other\n2024-01-01T00:00Z,100,x\n2024-01-01T01:00Z,200,y\n")
    trace = load_trace(path, time_column="when", value_column="g")
    assert trace.actual.tolist() == [100.0, 200.0]
    with pytest.raises(TraceError, match="no numeric column 'other'"):
        load_trace(path, time_column="when", value_column="other")
    with pytest.raises(TraceError, match="no time column"):
        load_trace(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Time,Carbon Intensity\n2024-01-01 01:00,1\n2024-01-01 00:00,2\n", "out of order"),
        ("Time,Carbon Intensity\n2024-01-01 00:00,1\n2024-01-01 00:00,2\n", "duplicated"),
        ("Time,Carbon Intensity\n", "empty trace"),
        ("Time,Carbon Intensity\nnot a time,1\n", "not an ISO 8601 time"),
        ("Time,Carbon Intensity\n2024-01-01 00:00,1,3\n", "different number of columns"),
    ],
)
def test_bad_traces(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(TraceError, match=message):
        load_trace(path)


@pytest.fixture(scope="module")
def dacf():  # type: ignore[no-untyped-def]
    return load_trace(TRACES / "dacf" / "DE_2021H2_forecast_and_actual.csv")


T = datetime(2021, 9, 1, tzinfo=UTC)


def test_perfect_and_column_modes(dacf) -> None:  # type: ignore[no-untyped-def]
    perfect = TraceProvider(dacf, "perfect").forecast("DE", T, T + timedelta(hours=24))
    actual = TraceProvider(dacf).actual("DE", T, T + timedelta(hours=24))
    assert perfect.values.tolist() == actual.values.tolist()
    column = TraceProvider(dacf, "column:carbon_from_src_forecasts").forecast(
        "DE", T, T + timedelta(hours=24)
    )
    assert column.values.tolist() != actual.values.tolist()
    error = np.abs(column.values - actual.values).mean() / actual.values.mean()
    assert 0.01 < error < 0.3  # a real day-ahead forecast: close but not perfect


def test_noise_is_seeded_and_sized(dacf) -> None:  # type: ignore[no-untyped-def]
    a = TraceProvider(dacf, "noise:0.1", seed=3)
    b = TraceProvider(dacf, "noise:0.1", seed=3)
    c = TraceProvider(dacf, "noise:0.1", seed=4)
    fa = a.forecast("DE", T, T + timedelta(hours=72)).values
    assert fa.tolist() == b.forecast("DE", T, T + timedelta(hours=72)).values.tolist()
    assert fa.tolist() != c.forecast("DE", T, T + timedelta(hours=72)).values.tolist()
    assert a._forecast is not None
    sigma = np.std(a._forecast - dacf.actual)
    assert sigma == pytest.approx(0.1 * dacf.actual.mean(), rel=0.1)
    # one draw for the whole trace: the forecast of an hour does not change with the issue time
    later = a.forecast("DE", T + timedelta(hours=5), T + timedelta(hours=10)).values
    assert later.tolist() == fa[5:10].tolist()


@pytest.mark.parametrize(
    ("mode", "error"),
    [("perfect", 0.0), ("noise:0.1", 0.1), ("persistence", None), ("noise:inf", TraceError)],
)
def test_a_forecast_states_the_error_its_mode_knows(dacf, mode: str, error: object) -> None:  # type: ignore[no-untyped-def]
    if error is TraceError:
        with pytest.raises(TraceError, match="finite number"):
            TraceProvider(dacf, mode)
        return
    series = TraceProvider(dacf, mode).forecast("DE", T, T + timedelta(hours=6))
    assert series.error == error


def test_persistence_uses_only_what_is_known(dacf) -> None:  # type: ignore[no-untyped-def]
    provider = TraceProvider(dacf, "persistence")
    series = provider.forecast("DE", T, T + timedelta(hours=48))
    actual = (
        TraceProvider(dacf).actual("DE", T - timedelta(hours=24), T + timedelta(hours=48)).values
    )
    assert series.values[:24].tolist() == actual[:24].tolist()  # today = yesterday
    assert series.values[24:48].tolist() == actual[:24].tolist()  # tomorrow = yesterday too


def test_horizon_and_coverage(dacf) -> None:  # type: ignore[no-untyped-def]
    provider = TraceProvider(dacf, horizon=timedelta(hours=12))
    assert len(provider.forecast("DE", T, T + timedelta(hours=48))) == 12
    with pytest.raises(ProviderNoData, match="covers 2021-07-01"):
        provider.actual("DE", datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC))


def test_shift_to_now_keeps_weekday_and_hour(dacf) -> None:  # type: ignore[no-untyped-def]
    anchor = datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    shift = TraceProvider.aligned_shift(dacf, anchor)
    assert shift % timedelta(days=7) == timedelta(0)
    provider = TraceProvider(dacf, shift=shift)
    series = provider.actual("DE", anchor, anchor + timedelta(hours=3))
    source = TraceProvider(dacf).actual("DE", anchor - shift, anchor - shift + timedelta(hours=3))
    assert series.values.tolist() == source.values.tolist()


def test_unknown_mode(dacf) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TraceError, match="unknown forecast mode"):
        TraceProvider(dacf, "psychic")
    with pytest.raises(TraceError, match="no forecast column 'nope'"):
        TraceProvider(dacf, "column:nope")


COLUMN = "column:carbon_from_src_forecasts"


def test_oracle_mode_gives_the_actuals_for_h_hours_then_the_forecast(dacf) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2021, 9, 1, 13, 30, tzinfo=UTC)  # reach: the end of 2 September
    end = now + timedelta(days=3)
    raw = TraceProvider(dacf, COLUMN).forecast("DE", now, end)
    oracle = TraceProvider(dacf, f"oracle:6:{COLUMN}").forecast("DE", now, end)
    actual = TraceProvider(dacf).actual("DE", raw.start, raw.end).values
    assert oracle.start == raw.start and oracle.end == raw.end  # published reach kept
    assert oracle.values[:6].tolist() == actual[:6].tolist()
    assert oracle.values[6:].tolist() == raw.values[6:].tolist()
    assert raw.values[:6].tolist() != actual[:6].tolist()
    assert "oracle" in (oracle.note or "")
    zero = TraceProvider(dacf, f"oracle:0:{COLUMN}").forecast("DE", now, end)
    assert zero.values.tolist() == raw.values.tolist()


def test_an_oracle_forecast_changes_with_its_issue_time(dacf) -> None:  # type: ignore[no-untyped-def]
    # the simulation re-plans only when a revision changes: each issue knows more actuals
    provider = TraceProvider(dacf, f"oracle:6:{COLUMN}")
    now = datetime(2021, 9, 1, 13, 30, tzinfo=UTC)
    assert provider.revision(now) != provider.revision(now + timedelta(hours=1))
    assert TraceProvider(dacf, COLUMN).revision(now) == TraceProvider(dacf, COLUMN).revision(
        now + timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (f"oracle:x:{COLUMN}", "expected oracle:H:column:NAME"),
        (f"oracle:-1:{COLUMN}", "a number >= 0"),
        (f"oracle:inf:{COLUMN}", "a number >= 0"),
        ("oracle:6:persistence", "only a forecast column or noise can follow oracle:H:"),
        (f"oracle:6:corrected:{COLUMN}", "only a forecast column or noise can follow"),
        ("oracle:6:column:nope", "no forecast column 'nope'"),
    ],
)
def test_bad_oracle_modes(dacf, mode: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TraceError, match=message):
        TraceProvider(dacf, mode)
