"""Parsing and printing of the quantities users type: durations, masses, instants.

Inside the code energy is in joules, power in watts, intensity in gCO2eq/kWh and emissions
in gCO2eq. These helpers convert at the edges only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from gridwait.clock import as_utc

J_PER_KWH = 3.6e6

# Longer unit names first: the regex takes the first alternative that matches, and `m`
# before `min` would leave `in` unread.
_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)",
    re.IGNORECASE,
)
_DURATION_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
"""Seconds per unit, by the unit's first letter (`2days`, `90min`, `1w`)."""
_NOW = re.compile(r"^\s*now\s*(?:([+-])(.*))?$", re.IGNORECASE)
MAX_DURATION_S = 10 * 366 * 86400.0
"""No deadline, job or window is meaningfully longer than ten years."""
_DURATION_LIKE = re.compile(r"^\s*\d[\d.\s]*(w|d|h|m|min|s)", re.IGNORECASE)
_MASS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(g|kg|t)?\s*$", re.IGNORECASE)
_MASS_GRAMS = {"g": 1.0, "kg": 1e3, "t": 1e6}


def parse_duration(text: str) -> timedelta:
    """`36h`, `90m`, `90min`, `2d`, `2days`, `1h30m`, `45s`, `1w`. Raises ValueError naming
    the problem."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise ValueError("empty duration")
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_SECONDS[match.group(2)[0].lower()]
        pos = match.end()
    if pos != len(cleaned):
        raise ValueError(f"{text!r} is not a duration such as 36h, 90m or 1h30m")
    if total <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    if total > MAX_DURATION_S:
        raise ValueError(f"duration {text!r} is over {MAX_DURATION_S // 86400:.0f} days")
    return timedelta(seconds=total)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time WITH a UTC offset (or Z), returned in UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset (write e.g. 2026-05-01T09:00+02:00 or ...Z)")
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def parse_when(text: str, now: datetime) -> datetime:
    """A deadline-like value: an ISO time with offset, `now+36h`, or a duration from `now`."""
    return read_time(text, now, durations=True).utc


@dataclass(frozen=True)
class TypedTime:
    """A time a user typed, in UTC."""

    utc: datetime
    note: str | None = None
    """Set when the text had no UTC offset and was read in a local zone: says which."""


def read_time(
    text: str, now: datetime, local: tzinfo | None = None, *, durations: bool = False
) -> TypedTime:
    """`now`, `now+36h`, `now-2days`; with `durations`, also a bare `36h` after `now`; or an
    ISO 8601 date or time. One without a UTC offset is read in `local`, with a note that
    says so; without `local` it is refused (a spec file may be submitted elsewhere, later).
    Raises ValueError naming the problem."""
    relative = _NOW.match(text)
    if relative:
        sign, rest = relative.groups()
        if sign is None:
            return TypedTime(now)
        try:
            step = parse_duration(rest)
        except ValueError as exc:
            raise ValueError(f"{text.strip()!r}: {exc}") from None
        return TypedTime(now + step if sign == "+" else now - step)
    if durations and _DURATION_LIKE.match(text):
        return TypedTime(now + parse_duration(text))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        if durations:
            raise ValueError(
                f"{text!r} is neither a duration such as 36h nor an ISO 8601 time (nor now+36h)"
            ) from None
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time (nor now+36h, now-7d)"
        ) from None
    if value.tzinfo is not None:
        return TypedTime(_in_utc(value, text))
    if local is None:
        return TypedTime(parse_instant(text))  # refused, with the message that says why
    value = value.replace(tzinfo=local)
    return TypedTime(_in_utc(value, text), _local_note(text.strip(), value))


def _in_utc(value: datetime, text: str) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def _local_note(text: str, value: datetime) -> str:
    zone = value.tzinfo
    name = getattr(zone, "key", None) or value.tzname() or str(zone)
    minutes = round((value.utcoffset() or timedelta()).total_seconds() / 60)
    hours, rest = divmod(abs(minutes), 60)
    offset = f"UTC{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}"
    return f"{text} read as {name} time ({offset}); add an offset or Z to be explicit"


def parse_mass_g(text: str) -> float:
    """`40kg`, `500g`, `1.5t`, or a bare number of grams; returned in gCO2eq."""
    match = _MASS.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a mass such as 40kg or 500g")
    grams = float(match.group(1)) * _MASS_GRAMS[(match.group(2) or "g").lower()]
    if grams <= 0:
        raise ValueError(f"mass {text!r} must be positive")
    return grams


def kwh(joules: float) -> float:
    return joules / J_PER_KWH


def kwh_or_none(joules: float | None) -> float | None:
    """Joules in kWh, an unknown energy staying unknown."""
    return None if joules is None else joules / J_PER_KWH


def format_mass(grams: float | None) -> str:
    if grams is None:
        return "-"
    if abs(grams) < 1e-9:  # floating-point dust of a difference
        grams = 0.0
    if abs(grams) >= 1e6:
        return f"{grams / 1e6:.2f} t"
    if abs(grams) >= 1e3:
        return f"{grams / 1e3:.2f} kg"
    if abs(grams) >= 10:
        return f"{grams:.0f} g"
    if abs(grams) >= 0.1 or grams == 0:
        return f"{grams:.2f} g"
    return f"{grams * 1e3:.3g} mg"


def format_energy(joules: float | None) -> str:
    if joules is None:
        return "-"
    value = kwh(joules)
    if value >= 1:
        return f"{value:.2f} kWh"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} Wh"
    return f"{joules:.0f} J"


def format_litres(litres: float | None) -> str:
    if litres is None:
        return "-"
    if abs(litres) >= 1e3:
        return f"{litres / 1e3:.2f} m3"
    if 0 < abs(litres) < 0.1:
        return f"{litres * 1e3:.3g} mL"
    return f"{litres:.3g} L"


def format_kwh(value: float | None) -> str:
    """An energy given in kWh (as views carry it), printed as format_energy does."""
    return "-" if value is None else format_energy(value * J_PER_KWH)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"{hours / 24:.1f}d"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")
