"""`gridwait --version`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

import pytest

import gridwait
from gridwait import version as version_module
from tests.conftest import Cli


def test_version_flag_prints_the_installed_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.code == 0
    assert result.out == f"gridwait {installed_version('gridwait')}\n"
    assert result.err == ""


def test_version_flag_needs_no_command_and_no_settings(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWAIT_CONFIG", "/nonexistent/gridwait.toml")  # never read
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("gridwait ")


def test_version_falls_back_to_the_package_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "distribution_version", not_installed)
    monkeypatch.setattr(gridwait, "__version__", "9.9.9-source")
    assert version_module.version() == "9.9.9-source"
    assert version_module.user_agent() == (
        "gridwait/9.9.9-source (+https://github.com/gridwait/gridwait)"
    )


def test_there_is_no_version_command(cli: Cli) -> None:
    result = cli("version")
    assert result.code == 2 and result.err.startswith("error: ")
