from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridwait.units import parse_duration, parse_instant, parse_mass_g, parse_when


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("36h", 129600),
        ("90m", 5400),
        ("1h30m", 5400),
        ("2d", 172800),
        ("45s", 45),
        ("1w", 604800),
        ("0.5h", 1800),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "36", "3x", "-1h", "0h", "1h 30"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_instant_needs_offset() -> None:
    assert parse_instant("2026-05-01T09:00+02:00") == datetime(2026, 5, 1, 7, tzinfo=UTC)
    assert parse_instant("2026-05-01T09:00Z") == datetime(2026, 5, 1, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2026-05-01T09:00")


def test_when_is_duration_or_instant() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_when("2h", now) == now + timedelta(hours=2)
    assert parse_when("2026-01-02T00:00Z", now) == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "grams"), [("40kg", 40000), ("500g", 500), ("1.5t", 1.5e6), ("12", 12)]
)
def test_masses(text: str, grams: float) -> None:
    assert parse_mass_g(text) == grams


@pytest.mark.parametrize("text", ["kg", "40 lb", "-3kg", "0g"])
def test_bad_masses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mass_g(text)
