"""The built-in profile: numbers computed from the real traces, used as the offline
default and the last fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridwait.errors import ProviderNoData
from gridwait.grid.profile import ProfileProvider, profile_zone
from gridwait.grid.profiles_data import PROFILES
from gridwait.grid.trace import load_trace
from tests.conftest import SHARED


def test_every_zone_has_twelve_months_of_24_hours() -> None:
    for zone, table in PROFILES.items():
        assert len(table) == 12 and all(len(row) == 24 for row in table), zone
        assert min(min(row) for row in table) >= 0


@pytest.mark.parametrize(
    ("zone", "file"), [("DE", "lets-wait-awhile/ger_ci.csv"), ("FR", "lets-wait-awhile/fr_ci.csv")]
)
def test_profile_matches_the_trace_it_came_from(zone: str, file: str) -> None:
    """Recompute one month's hour-of-day means from the real 2020 trace."""
    trace = load_trace(SHARED / "data" / "traces" / file)
    march = [
        (trace.start + trace.resolution * i, v)
        for i, v in enumerate(trace.actual)
        if (trace.start + trace.resolution * i).year == 2020
        and (trace.start + trace.resolution * i).month == 3
    ]
    for hour in (0, 6, 12, 18):
        mean = np.mean([v for t, v in march if t.hour == hour])
        assert PROFILES[zone][2][hour] == pytest.approx(mean, abs=0.5)


def test_series_follow_the_table() -> None:
    start = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    series = ProfileProvider().forecast("GB", start, start + timedelta(hours=4))
    assert series.start == datetime(2026, 7, 1, 22, tzinfo=UTC)
    assert series.values.tolist() == [
        PROFILES["GB"][6][22],
        PROFILES["GB"][6][23],
        PROFILES["GB"][6][0],
        PROFILES["GB"][6][1],
        PROFILES["GB"][6][2],
    ]
    assert "typical day" in (series.note or "")


def test_zone_aliases() -> None:
    assert profile_zone("regionid:13") == "GB" and profile_zone("national") == "GB"
    assert profile_zone("CAISO_NORTH") == "US-CAL-CISO" and profile_zone("trace") is None
    with pytest.raises(ProviderNoData, match="no built-in profile for zone 'XX'"):
        ProfileProvider().forecast(
            "XX", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
        )
