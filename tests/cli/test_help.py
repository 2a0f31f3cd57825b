"""Every command and group answers --help with a description."""

from __future__ import annotations

import pytest
import typer.main
from typer.core import TyperGroup

from gridwait.cli import app
from tests.conftest import Cli


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, TyperGroup):
            found.extend(_commands(command, path))
    return found


ROOT = typer.main.get_command(app)
assert isinstance(ROOT, TyperGroup)
COMMANDS = _commands(ROOT)


def test_the_command_list_is_complete() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"init", "submit", "queue", "show", "cancel", "config show"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_help(cli: Cli, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.code == 0
    assert "Usage:" in result.out
    command = ROOT
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


def test_root_help(cli: Cli) -> None:
    result = cli("--help")
    assert result.code == 0 and "grid is cleanest" in result.out
