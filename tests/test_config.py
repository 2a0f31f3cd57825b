from __future__ import annotations

from pathlib import Path

import pytest

from gridwait.config import load_settings
from gridwait.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_env_and_file(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "gridwait.toml").write_text(
        '[grid]\nprovider = "uk"\nzone = "DE"\n[energy]\npue = 1.2\n'
    )
    monkeypatch.setenv("GRIDWAIT_GRID__ZONE", "national")
    settings = load_settings()
    assert settings.db == env
    assert settings.grid.provider == "uk"  # from the file
    assert settings.grid.zone == "national"  # the environment wins over the file
    assert settings.energy.pue == 1.2


def test_secrets_are_masked(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_TOKEN", "tok-123456")
    monkeypatch.setenv("GRIDWAIT_WATTTIME_PASSWORD", "pw-secret")
    settings = load_settings()
    assert settings.electricitymaps_token is not None
    assert settings.electricitymaps_token.get_secret_value() == "tok-123456"
    shown = str(settings.masked())
    assert "tok-123456" not in shown and "pw-secret" not in shown


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[grid]\nprovider = 'bogus'\n", "grid.provider"),
        ("[grid]\nzonee = 'DE'\n", "grid.zonee: unknown key"),
        ("[energy]\npue = 0.5\n", "energy.pue"),
        ("[scheduler]\nsplit_margin = 0.9\n", "scheduler.split_margin"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_settings_files(env: Path, tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "gridwait.toml").write_text(body)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "absent.toml")


def test_shipped_config_files_load(env: Path) -> None:
    for path in sorted((ROOT / "config").glob("gridwait*.toml")):
        load_settings(path)


def test_config_show_masks(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GRIDWAIT_ELECTRICITYMAPS_TOKEN", "tok-123456")
    result = cli("config", "show", "--json")
    assert result.code == 0
    assert "tok-123456" not in result.out
    assert '"electricitymaps_token": "**********"' in result.out.replace(",", ",")
    text = cli("config", "show")
    assert "tok-123456" not in text.out and "[grid]" in text.out


def test_split_margin_reaches_the_planner(env: Path, tmp_path: Path) -> None:
    from gridwait.scheduler.queue_plan import options

    (tmp_path / "gridwait.toml").write_text("[scheduler]\nsplit_margin = 0.05\n")
    assert options(load_settings()).split_margin == 0.05
