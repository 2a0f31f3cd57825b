"""Every command the README shows is run here, in a sandbox, as a user would type it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from tests.conftest import SHARED, Cli
from tests.grid.conftest import built_em_forecast_72h, built_watttime_forecast, recorded

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    """`gridwait ...` and `make ...` lines of the README's plain code blocks."""
    commands, inside, fence = [], False, ""
    pending = ""
    for raw in (ROOT / "README.md").read_text().splitlines():
        if raw.startswith("```"):
            inside, fence = (not inside), raw[3:].strip()
            continue
        if not inside or fence:  # only untagged blocks hold commands (toml blocks do not)
            continue
        line = pending + raw.split("  #")[0].strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.startswith(("gridwait ", "make ")):
            commands.append(" ".join(line.split()))
    return commands


def test_the_readme_starts_with_the_two_commands() -> None:
    assert readme_commands()[:2] == ["make demo", "make test"]


def providers(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    uk = recorded("uk-carbon-intensity/jscruz__intensity_fw24h_national_2017-10-01.json")
    for i, item in enumerate(uk["data"]):  # move the recorded half hours to now
        start = now.timestamp() + 1800 * (i - 1)
        item["from"] = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%MZ")
    server.expect_request(re.compile(r"/intensity/.*/fw48h")).respond_with_json(uk)
    server.expect_request("/v3/carbon-intensity/forecast").respond_with_json(
        built_em_forecast_72h(now)
    )
    server.expect_request("/login").respond_with_json({"token": "jwt"})
    server.expect_request("/v3/forecast").respond_with_json(built_watttime_forecast(now, hours=24))
    monkeypatch.setenv("GRIDWAIT_UK_URL", server.url_for("/"))
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_URL", server.url_for("/v3"))
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_TOKEN", "token-from-the-environment")
    monkeypatch.setenv("GRIDWAIT_WATTTIME_URL", server.url_for("/"))
    monkeypatch.setenv("GRIDWAIT_WATTTIME_USER", "ada")
    monkeypatch.setenv("GRIDWAIT_WATTTIME_PASSWORD", "secret")


PRIORITY = [
    "gridwait init",
    "gridwait estimate",
    "gridwait submit",
    "gridwait queue",
    "gridwait show",
    "gridwait plan",
    "gridwait cancel",
    "gridwait config",
    "gridwait budget",
    "gridwait forecast",
    "gridwait run --until-idle",
    "gridwait settle",
    "gridwait history",
    "gridwait report",
    "gridwait export",
    "gridwait simulate --generate",
    "gridwait simulate",
]
"""A deliberate order: the job exists before it is shown, cancelled after; the
simulation's jobs.csv before the backtest; the simulated run before the history."""


def _ordered(commands: Iterable[str]) -> list[str]:
    return sorted(
        commands,
        key=lambda c: next((i for i, p in enumerate(PRIORITY) if c.startswith(p)), len(PRIORITY)),
    )


def _args(command: str, tmp_path: Path) -> list[str]:
    return [
        a.replace("../shared", str(SHARED))
        .replace("emissions.csv", str(tmp_path / "emissions.csv"))
        .replace("jobs.csv", str(tmp_path / "jobs.csv"))
        .replace("result.json", str(tmp_path / "result.json"))
        for a in shlex.split(command)[1:]
    ]


def test_every_readme_command_runs(
    cli: Cli, env: Path, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    providers(httpserver, monkeypatch)
    monkeypatch.chdir(ROOT)
    ran: set[str] = set()
    # make test is CI itself; make demo runs `gridwait demo` (tests/cli/test_demo.py)
    ran |= {"make test", "make demo"}
    foreground = "gridwait run"
    order = _ordered(c for c in readme_commands() if c not in ran)
    for command in order:
        if command == foreground:
            continue
        if command == "gridwait run --until-idle --clock sim:3600":
            cli("submit", "config/job.example.toml")
        result = cli(*_args(command, tmp_path))
        assert result.code == 0, f"{command}: {result.err}"
        ran.add(command)
    # the foreground service: Ctrl-C stops it cleanly
    service = subprocess.Popen(
        [sys.executable, "-m", "gridwait", "run"],
        env=os.environ.copy(),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert service.stderr is not None
    seen = ""  # its signal handlers are in place once it says it is starting
    while "service starting" not in seen and service.poll() is None:
        seen += service.stderr.readline()
    service.send_signal(signal.SIGINT)
    _, err = service.communicate(timeout=60)
    assert service.returncode == 0 and "stopping (Ctrl-C)" in err
    ran.add(foreground)
    assert ran == set(readme_commands())
    assert (tmp_path / "emissions.csv").read_text().startswith("timestamp,project_name,run_id")
    assert '"savings_pct"' in (tmp_path / "result.json").read_text()


USER_COMMANDS = {
    "submit",
    "estimate",
    "queue",
    "show",
    "cancel",
    "plan",
    "forecast",
    "history",
    "report",
    "export",
    "budget",
}
"""What goes to the service when GRIDWAIT_URL is set; the rest are the host's own."""


def test_the_readme_user_commands_run_against_a_service(
    cli: Cli, env: Path, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gridwait.api.server import ApiServer
    from gridwait.app.actor import Role, host_admin
    from gridwait.app.deps import Deps
    from gridwait.app.users import add_user, issue_token
    from gridwait.clock import SystemClock
    from gridwait.config import load_settings

    providers(httpserver, monkeypatch)
    monkeypatch.chdir(ROOT)
    # the service has its own database; the client's local one must stay untouched
    deps = Deps(load_settings(db=tmp_path / "service.db"), SystemClock())
    add_user(deps, host_admin(), "root", Role.ADMIN)
    server = ApiServer(deps, "127.0.0.1", 0)
    server.start()
    monkeypatch.setenv("GRIDWAIT_URL", server.url)
    monkeypatch.setenv("GRIDWAIT_TOKEN", issue_token(deps, host_admin(), "root").token)
    commands = _ordered(c for c in readme_commands() if c.split()[1] in USER_COMMANDS)
    try:
        for command in commands:
            result = cli(*_args(command, tmp_path))
            assert result.code == 0, f"{command}: {result.err}"
    finally:
        server.stop()
        deps.close()
    assert {c.split()[1] for c in commands} == USER_COMMANDS
    assert not env.exists()  # nothing went to the local database
    with sqlite3.connect(tmp_path / "service.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] >= 1
    assert (tmp_path / "emissions.csv").read_text().startswith("timestamp,project_name,run_id")
