"""Times typed on the command line: the zone a time without offset is read in, and the
note that says so. The parsing itself is `gridwait.units.read_time`, which takes the zone."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridwait.cli.context import note
from gridwait.errors import ConfigError
from gridwait.units import read_time

LOCALTIME = Path("/etc/localtime")


def local_zone() -> tzinfo:
    """$TZ when it names a zone, else the machine's /etc/localtime, else the fixed offset
    the C library reports (a POSIX rule such as TZ=CET-1 has no IANA name)."""
    name = os.environ.get("TZ", "").removeprefix(":") or str(LOCALTIME)
    return _zone(name) or timezone(timedelta(seconds=-time.timezone), time.tzname[0])


def _zone(name: str) -> tzinfo | None:
    """The IANA zone a name or a zoneinfo file path (such as /etc/localtime) stands for."""
    path = Path(name)
    if path.is_absolute():
        target = path.resolve()
        if "zoneinfo" not in target.parts:
            return None
        name = "/".join(target.parts[target.parts.index("zoneinfo") + 1 :])
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def typed_time(text: str, option: str, now: datetime, *, durations: bool = False) -> datetime:
    """A time from the command line in UTC (see `read_time`); a time without offset is read
    in the local zone and a note on stderr names it. Raises ConfigError naming `option`."""
    try:
        typed = read_time(text, now, local_zone(), durations=durations)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None
    if typed.note:
        note(f"note: {typed.note}")
    return typed.utc
