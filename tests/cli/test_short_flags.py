"""Slurm-style short flags: -u/--user, -p/--project (and -j/--job wherever a job option
exists) on every command, meaning exactly what the long option means."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.core import TyperGroup

from tests.cli.test_help import COMMANDS, ROOT
from tests.cli.test_review import seed
from tests.cli.test_submit import GOOD
from tests.conftest import Cli, write_spec

SHORT = {"--user": "-u", "--project": "-p", "--job": "-j"}


def _params(path: tuple[str, ...]) -> list[Any]:
    command: Any = ROOT
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return list(command.params)


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_user_project_or_job_option_has_its_short_flag(path: tuple[str, ...]) -> None:
    for param in _params(path):
        for long, short in SHORT.items():
            if long in param.opts:
                assert short in param.opts, f"{' '.join(path)} {long} lacks {short}"


def test_the_commands_with_user_options_are_the_expected_ones() -> None:
    with_user = {" ".join(p) for p in COMMANDS if any("-u" in q.opts for q in _params(p))}
    assert with_user == {
        "queue",
        "history",
        "report",
        "export",
        "budget set",
        "budget rm",
        "notify test",
    }


def test_queue_short_flags_filter_like_the_long_ones(
    cli: Cli, env: Path, tmp_path: Path, dataset: Path
) -> None:
    for owner, project in [("alice", "nlp"), ("bob", "nlp"), ("bob", "vision")]:
        cli("submit", write_spec(tmp_path, f'owner = "{owner}"\nproject = "{project}"\n' + GOOD))
    short = json.loads(cli("queue", "-u", "bob", "-p", "vision", "--json").out)
    long = json.loads(cli("queue", "--user", "bob", "--project", "vision", "--json").out)
    assert short == long and [(r["owner"], r["project"]) for r in short] == [("bob", "vision")]


@pytest.mark.parametrize("command", ["history", "export"])
def test_review_short_flags(cli: Cli, env: Path, dataset: Path, command: str) -> None:
    seed(env, dataset)
    args = ("--format", "json") if command == "export" else ("--json",)
    by_user = json.loads(cli(command, "-u", "bob", *args).out)
    assert by_user == json.loads(cli(command, "--user", "bob", *args).out)
    assert [r["owner"] for r in by_user] == ["bob"]
    by_project = json.loads(cli(command, "-p", "nlp", *args).out)
    assert len(by_project) == 1


def test_report_short_flag(cli: Cli, env: Path, dataset: Path) -> None:
    seed(env, dataset)
    rows = json.loads(cli("report", "--by", "user", "-u", "alice", "--json").out)
    assert [r["user"] for r in rows] == ["alice"]


def test_budget_short_flags(cli: Cli, env: Path) -> None:
    assert cli("budget", "set", "-u", "alice", "--monthly", "40kg").code == 0
    assert cli("budget", "set", "-p", "nlp", "--monthly", "1.5t").code == 0
    listed = {(b["scope"], b["name"]) for b in json.loads(cli("budget", "list", "--json").out)}
    assert listed == {("user", "alice"), ("project", "nlp")}
    assert cli("budget", "rm", "-u", "alice").code == 0
    left = json.loads(cli("budget", "list", "--json").out)
    assert [(b["scope"], b["name"]) for b in left] == [("project", "nlp")]
