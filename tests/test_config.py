from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from gridwait.config import load_settings, site_config_paths
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


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site-wide settings file, named through GRIDWAIT_SITE_CONFIG."""
    path = tmp_path / "site" / "gridwait.toml"
    path.parent.mkdir()
    monkeypatch.setenv("GRIDWAIT_SITE_CONFIG", str(path))
    return path


def test_site_file_is_merged_under_the_users_key_by_key(
    env: Path, tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.write_text(
        '[grid]\nprovider = "uk"\nzone = "national"\n[energy]\npue = 1.4\n[scheduler]\ngpus = 8\n'
    )
    user = tmp_path / "gridwait.toml"
    user.write_text('[grid]\nzone = "regionid:13"\n[energy]\npue = 1.1\n')
    monkeypatch.setenv("GRIDWAIT_ENERGY__PUE", "1.2")
    settings = load_settings()
    assert settings.grid.provider == "uk"  # the site's, kept under the user's [grid]
    assert settings.grid.zone == "regionid:13"  # the user's file wins over the site's
    assert settings.scheduler.gpus == 8  # a table only the site sets
    assert settings.energy.pue == 1.2  # the environment wins over both
    assert settings.files == (site, user)


def test_missing_site_file_is_skipped(env: Path, site: Path) -> None:
    assert not site.exists()
    assert load_settings().files == (Path(str(env)).with_name("gridwait.toml"),)


def test_empty_site_variable_disables_the_site_file(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWAIT_SITE_CONFIG", "")
    assert site_config_paths() == []


def test_default_site_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("GRIDWAIT_SITE_CONFIG", raising=False)
    paths = site_config_paths()
    assert paths[0] == Path("/etc/gridwait/gridwait.toml")
    platform = platformdirs.site_config_path("gridwait") / "gridwait.toml"
    assert paths[-1] == platform and len(paths) == len(set(paths))


def test_explicit_missing_user_file_is_still_an_error_with_a_site_file(
    env: Path, site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    site.write_text('[grid]\nzone = "GB"\n')
    monkeypatch.setenv("GRIDWAIT_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=re.escape("absent.toml: no such file")):
        load_settings()


def test_a_mistake_in_the_site_file_names_the_site_file(env: Path, site: Path) -> None:
    site.write_text("[grid]\nprovider = 'bogus'\n")
    with pytest.raises(ConfigError, match=re.escape(f"config {site}: grid.provider")):
        load_settings()
    site.write_text("not toml [")
    with pytest.raises(ConfigError, match=re.escape(f"config {site}: not valid TOML")):
        load_settings()


def test_a_mistake_in_the_user_file_names_the_user_file(
    env: Path, site: Path, tmp_path: Path
) -> None:
    site.write_text('[grid]\nprovider = "uk"\n')
    (tmp_path / "gridwait.toml").write_text("[grid]\nzone = 5\n")
    with pytest.raises(
        ConfigError, match=re.escape(f"config {tmp_path / 'gridwait.toml'}: grid.zone")
    ):
        load_settings()


def test_config_show_names_the_files_read(cli, env: Path, site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site.write_text('[grid]\nprovider = "uk"\n')
    text = cli("config", "show")
    assert text.code == 0
    first = text.out.splitlines()[0]
    assert first == (
        f"# settings files read (a later one wins): {site}, {tmp_path / 'gridwait.toml'}"
    )
    assert "provider = uk" in text.out
    as_json = cli("config", "show", "--json")
    assert json.loads(as_json.out)["grid"]["provider"] == "uk"  # stdout: the settings alone
    assert str(site) in as_json.err


def test_config_show_without_files(
    cli, env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GRIDWAIT_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty-home"))
    result = cli("config", "show")
    assert result.code == 0
    assert result.out.splitlines()[0] == "# no settings file read: defaults and environment"


@pytest.mark.parametrize(
    ("theirs", "ours", "field"),
    [
        ("WATTTIME_USER", "GRIDWAIT_WATTTIME_USER", "watttime_user"),
        ("WATTTIME_PASSWORD", "GRIDWAIT_WATTTIME_PASSWORD", "watttime_password"),
        ("ELECTRICITYMAPS_API_TOKEN", "GRIDWAIT_ELECTRICITYMAPS_TOKEN", "electricitymaps_token"),
    ],
)
def test_the_providers_own_variable_names(
    env: Path, monkeypatch: pytest.MonkeyPatch, theirs: str, ours: str, field: str
) -> None:
    def value() -> str | None:
        got = getattr(load_settings(), field)
        return got.get_secret_value() if isinstance(got, SecretStr) else got

    assert value() is None
    monkeypatch.setenv(theirs, "from-the-provider-name")
    assert value() == "from-the-provider-name"
    monkeypatch.setenv(ours, "from-gridwait-name")
    assert value() == "from-gridwait-name"  # gridwait's own name wins


def test_provider_variable_names_win_over_the_file(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gridwait.toml").write_text('watttime_user = "from-file"\n')
    assert load_settings().watttime_user == "from-file"
    monkeypatch.setenv("WATTTIME_USER", "from-env")
    assert load_settings().watttime_user == "from-env"


def test_provider_named_secrets_stay_masked(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ELECTRICITYMAPS_API_TOKEN", "em-tok-98765")
    monkeypatch.setenv("WATTTIME_PASSWORD", "wt-pw-98765")
    monkeypatch.setenv("WATTTIME_USER", "ada")
    for args in (("config", "show"), ("config", "show", "--json")):
        result = cli(*args)
        assert result.code == 0
        assert "98765" not in result.out + result.err
    shown = json.loads(cli("config", "show", "--json").out)
    assert shown["electricitymaps_token"] == shown["watttime_password"] == "**********"
    assert shown["watttime_user"] == "ada"


def test_the_slurm_example_loads_and_plans_on_its_partition(env: Path) -> None:
    settings = load_settings(ROOT / "config" / "slurm.example.toml")
    assert settings.launcher == "slurm"
    assert settings.gpu_capacity == 8  # the partition's, not [scheduler] gpus
    assert settings.hardware == "A100-SXM"  # never this host's detected hardware
    assert settings.work_dir == Path("/shared/gridwait/runs")


def test_a_slurm_launcher_without_its_partition_is_refused(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "slurm.toml"
    path.write_text('launcher = "slurm"\n[slurm]\npartition = "gpu"\n')
    with pytest.raises(ConfigError, match=r"needs a \[slurm.partitions.gpu\] table"):
        load_settings(path)
    path.write_text('[slurm]\npartition = "gpu"\n[slurm.partitions.a100]\ngpus = 4\n')
    with pytest.raises(ConfigError, match=r"'gpu' is not one of \[slurm.partitions\] \(a100\)"):
        load_settings(path)


def test_a_slurm_target_is_estimated_on_its_partitions_gpus(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "mixed.toml"
    path.write_text(
        '[energy]\nhardware = "RTX-4090"\n'
        '[slurm]\npartition = "gpu"\n[slurm.partitions.gpu]\ngpus = 8\ngpu_model = "A100-SXM"\n'
        '[[targets]]\nname = "box"\nzone = "DE"\ngpus = 1\n'
        '[[targets]]\nname = "cluster"\nzone = "FR"\ngpus = 8\nkind = "slurm"\n'
        '[[targets]]\nname = "own"\nzone = "FR"\ngpus = 1\nhardware = "H100-SXM"\n'
    )
    hardware = {t.name: t.hardware for t in load_settings(path).launch_targets()}
    # the box: None, planned on [energy] hardware; the cluster: its partition's GPUs
    assert hardware == {"box": None, "cluster": "A100-SXM", "own": "H100-SXM"}


def test_the_factory_builds_the_launcher_the_settings_name(env: Path) -> None:
    from gridwait.workers.launchers.factory import make_launcher
    from gridwait.workers.launchers.local import LocalLauncher
    from gridwait.workers.launchers.slurm import SlurmLauncher

    assert isinstance(make_launcher(load_settings()), LocalLauncher)
    slurm = make_launcher(load_settings(ROOT / "config" / "slurm.example.toml"))
    assert isinstance(slurm, SlurmLauncher) and slurm.submits_ahead
