"""Times typed on the command line: now+36h, and local times read in the machine's zone
with a note on stderr. A spec FILE still refuses a time without offset."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gridwait.cli.times import local_zone
from tests.cli.test_review import seed
from tests.cli.test_submit import GOOD
from tests.conftest import Cli, count_rows, write_spec


def _deadline(cli: Cli, job: str) -> datetime:
    shown = json.loads(cli("show", job, "--json").out)
    return datetime.fromisoformat(shown["deadline"])


def test_deadline_now_plus(cli: Cli, env: Path, spec_file: Path) -> None:
    before = datetime.now(UTC)
    result = cli("submit", spec_file, "--deadline", "now+2days")
    assert result.code == 0, result.err
    due = _deadline(cli, result.out.strip())
    assert 47.9 * 3600 < (due - before).total_seconds() < 48.1 * 3600
    assert "note:" not in result.err


def test_local_deadline_is_read_in_tz_with_a_note(
    cli: Cli, env: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    result = cli("submit", spec_file, "--deadline", "2099-12-06T09:00")
    assert result.code == 0, result.err
    assert _deadline(cli, result.out.strip()) == datetime(2099, 12, 6, 3, 30, tzinfo=UTC)
    assert (
        "note: 2099-12-06T09:00 read as Asia/Kolkata time (UTC+05:30);"
        " add an offset or Z to be explicit"
    ) in result.err.splitlines()


def test_deadline_with_offset_gives_no_note(
    cli: Cli, env: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    result = cli("submit", spec_file, "--deadline", "2099-12-06T09:00Z")
    assert result.code == 0 and "note:" not in result.err
    assert _deadline(cli, result.out.strip()) == datetime(2099, 12, 6, 9, tzinfo=UTC)


def test_spec_file_without_offset_stays_refused_even_with_a_zone(
    cli: Cli, env: Path, tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    spec = write_spec(tmp_path, GOOD.replace('"36h"', '"2099-12-06T09:00"'))
    result = cli("submit", spec)
    assert result.code == 2 and "deadline: '2099-12-06T09:00' has no UTC offset" in result.err
    assert count_rows(env) == 0


def test_spec_file_takes_now_plus(cli: Cli, env: Path, tmp_path: Path, dataset: Path) -> None:
    body = 'earliest_start = "now+90min"\n' + GOOD.replace('"36h"', '"now+1w"')
    before = datetime.now(UTC)
    result = cli("submit", write_spec(tmp_path, body))
    assert result.code == 0, result.err
    shown = json.loads(cli("show", result.out.strip(), "--json").out)
    start = datetime.fromisoformat(shown["earliest_start"])
    assert 89 * 60 < (start - before).total_seconds() < 91 * 60
    assert 6.9 * 86400 < (_deadline(cli, result.out.strip()) - before).total_seconds() < 7.1 * 86400


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "{spec}", "--deadline", "now+3parsecs"),
        ("history", "--since", "now-3parsecs"),
        ("report", "--until", "now+"),
    ],
)
def test_bad_relative_time_is_one_error_line(
    cli: Cli, env: Path, spec_file: Path, args: tuple[str, ...]
) -> None:
    result = cli(*(str(spec_file) if a == "{spec}" else a for a in args))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --"), result.err
    assert "parsecs" in lines[0] or "empty duration" in lines[0]
    assert "Traceback" not in result.err and count_rows(env) == 0


def test_history_since_until_now_minus(cli: Cli, env: Path, dataset: Path) -> None:
    seed(env, dataset)  # two runs started two hours ago
    assert len(json.loads(cli("history", "--since", "now-3h", "--json").out)) == 2
    assert json.loads(cli("history", "--since", "now-1h", "--json").out) == []
    assert json.loads(cli("history", "--until", "now-3h", "--json").out) == []
    assert len(json.loads(cli("export", "--format", "json", "--since", "now-1d").out)) == 2


def test_history_local_date_has_a_note(
    cli: Cli, env: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(env, dataset)
    monkeypatch.setenv("TZ", "Europe/London")
    result = cli("history", "--until", "2999-01-01", "--json")
    assert result.code == 0 and len(json.loads(result.out)) == 2
    assert "note: 2999-01-01 read as Europe/London time (UTC+00:00)" in result.err


@pytest.mark.parametrize(
    ("tz", "key"),
    [
        ("Europe/London", "Europe/London"),
        (":Asia/Tokyo", "Asia/Tokyo"),
        ("/usr/share/zoneinfo/America/New_York", "America/New_York"),
    ],
)
def test_local_zone_follows_tz(monkeypatch: pytest.MonkeyPatch, tz: str, key: str) -> None:
    if not Path("/usr/share/zoneinfo").is_dir():
        pytest.skip("no system zoneinfo database")
    monkeypatch.setenv("TZ", tz)
    assert local_zone() == ZoneInfo(key)


def test_local_zone_without_tz_is_the_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    zone = local_zone()
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    # the same offset the C library applies to this machine's local time
    assert moment.astimezone(zone).utcoffset() == moment.astimezone().utcoffset()
