from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gridwait.units import (
    TypedTime,
    parse_duration,
    parse_instant,
    parse_mass_g,
    parse_when,
    read_time,
)


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


NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "after"),
    [
        ("now+36h", timedelta(hours=36)),
        ("now+2days", timedelta(days=2)),
        ("now+90min", timedelta(minutes=90)),
        ("now+1w", timedelta(weeks=1)),
        ("NOW + 1h30m", timedelta(minutes=90)),
        ("now-7d", -timedelta(days=7)),
        ("now", timedelta(0)),
    ],
)
def test_now_plus_or_minus(text: str, after: timedelta) -> None:
    typed = read_time(text, NOW)
    assert typed == TypedTime(NOW + after, None)
    assert parse_when(text, NOW) == NOW + after


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2days", 172800), ("90min", 5400), ("3 hours", 10800), ("2weeks", 1209600), ("1hr", 3600)],
)
def test_duration_unit_words(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("now+3parsecs", "'now+3parsecs': '3parsecs' is not a duration"),
        ("now+", "'now+': empty duration"),
        ("now+0h", "must be positive"),
        ("now*2", "is not an ISO 8601 date or time"),
        ("nowish", "is not an ISO 8601 date or time"),
    ],
)
def test_bad_relative_times(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        read_time(text, NOW, ZoneInfo("Europe/London"))


def test_a_time_without_offset_is_read_in_the_zone_given_with_a_note() -> None:
    typed = read_time("2026-12-06T09:00", NOW, ZoneInfo("Asia/Kolkata"))
    assert typed.utc == datetime(2026, 12, 6, 3, 30, tzinfo=UTC)
    assert typed.note == (
        "2026-12-06T09:00 read as Asia/Kolkata time (UTC+05:30); add an offset or Z to be explicit"
    )
    summer = read_time("2026-07-01", NOW, ZoneInfo("America/New_York"))
    assert summer.utc == datetime(2026, 7, 1, 4, tzinfo=UTC)  # EDT, not the March offset
    assert summer.note is not None and "(UTC-04:00)" in summer.note


def test_offsets_and_z_need_no_zone_and_give_no_note() -> None:
    assert read_time("2026-12-06T09:00+01:00", NOW, ZoneInfo("Asia/Kolkata")) == TypedTime(
        datetime(2026, 12, 6, 8, tzinfo=UTC)
    )


def test_without_a_zone_a_time_without_offset_is_refused() -> None:
    """Spec files give no zone: a file may be submitted elsewhere, later."""
    with pytest.raises(ValueError, match="has no UTC offset"):
        read_time("2026-12-06T09:00", NOW)
    with pytest.raises(ValueError, match="has no UTC offset"):
        parse_when("2026-12-06T09:00", NOW)


def test_bare_durations_only_where_asked() -> None:
    assert read_time("36h", NOW, durations=True).utc == NOW + timedelta(hours=36)
    with pytest.raises(ValueError, match="is not an ISO 8601 date or time"):
        read_time("36h", NOW, ZoneInfo("UTC"))
