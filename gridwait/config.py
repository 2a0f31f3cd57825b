"""Settings: one typed object, read from TOML files and GRIDWAIT_* environment variables.

Never built at import time: `load_settings()` is called by the CLI (or a test) and the result
is passed to whatever needs it. Precedence, highest first: explicit overrides given to
`load_settings`, environment variables, the user's TOML file, the site's TOML files, the
defaults below. Files are merged key by key: a user file that sets `[grid] zone` keeps the
site's `[grid] provider`.

The user's file is `$GRIDWAIT_CONFIG`, else `gridwait.toml` in the user config directory.
The site's are `/etc/gridwait/gridwait.toml` and `gridwait.toml` in the platform's site
config directory (`$GRIDWAIT_SITE_CONFIG` names another; empty: none). Nested tables map to
`GRIDWAIT_<TABLE>__<KEY>` variables (e.g. `GRIDWAIT_GRID__ZONE=GB`). The providers' own
variable names (`WATTTIME_USER`, `WATTTIME_PASSWORD`, `ELECTRICITYMAPS_API_TOKEN`) are read
too; gridwait's win where both are set.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from gridwait.errors import ConfigError, one_line
from gridwait.settings_base import Section as _Section
from gridwait.settings_base import http_url
from gridwait.slurm_settings import SlurmSettings

ProviderName = Literal["electricitymaps", "uk", "watttime", "trace", "profile"]
SITE_CONFIG = Path("/etc/gridwait/gridwait.toml")


def _env_alias(field: str, provider_name: str) -> AliasChoices:
    """gridwait's variable first (it wins), then the provider's own; the field's name last,
    for the TOML file's key."""
    return AliasChoices(f"GRIDWAIT_{field.upper()}", provider_name, field)


class GridSettings(_Section):
    provider: ProviderName = "profile"
    zone: str = "DE"
    trace: Path | None = None
    """CSV trace for the `trace` provider (any format in shared/data/traces)."""
    forecast: str = "perfect"
    """Trace forecast mode: perfect, column:NAME (day-ahead), noise:E, persistence,
    corrected:column:NAME or corrected:noise:E (grid/trace.py)."""
    time_column: str | None = None
    value_column: str | None = None
    trace_align: Literal["none", "now"] = "none"
    """`now` replays the trace shifted by whole weeks so that it covers the present."""
    seed: int = Field(0, ge=0, le=2**32 - 1)
    horizon_hours: float = Field(72.0, gt=0, le=24 * 31)
    emission_factor_type: Literal["lifecycle", "direct"] = "lifecycle"
    report_provider: ProviderName | None = None
    """The signal runs are accounted and reported on, when it differs from the one planned
    on (`provider`): e.g. plan on WattTime's marginal, report Electricity Maps' average.
    Both are stored per run. Default: the planning provider."""
    forecast_correction: Literal["off", "persistence", "stacked"] = "off"
    """The service and `plan` plan on the forecast corrected from its own recent errors,
    fitted per lead on the stored forecasts and actuals of the last 28 days (the methods
    of grid/corrector.py; grid/live_correction.py); `forecast` shows it beside the raw one.
    With too little stored history the raw forecast is used, and the plan says so."""
    risk_quantile: float = Field(0.5, ge=0.5, le=0.9)
    """The risk rule: a corrected forecast is planned on this quantile of each hour's
    error distribution (0.5: its median; up to 0.9, the band's upper edge). Bands widen
    with the lead, so a higher quantile defers a job only for a saving that outweighs the
    later window's wider band."""
    cache_ttl_minutes: float = Field(30.0, ge=0, le=24 * 60)
    fallback_max_age_hours: float = Field(24.0, ge=0, le=24 * 31)
    """A cached forecast this fresh may stand in when the provider fails."""
    timeout_s: float = Field(10.0, gt=0, le=600)
    retries: int = Field(3, ge=0, le=20)
    max_retry_after_s: float = Field(120.0, ge=0, le=3600)


class SchedulerSettings(_Section):
    gpus: int = Field(1, ge=0, le=4096)
    """GPUs this box lends to gridwait (capacity). 0 runs CPU jobs only."""
    cpu_slots: int = Field(1, ge=1, le=1024)
    """CPU-only jobs (gpus = 0) that may run at once; each gets cores / cpu_slots threads."""
    poll_minutes: float = Field(30.0, ge=0.1, le=24 * 60)
    step_minutes: float = Field(5.0, ge=1, le=24 * 60)
    """Granularity of capacity and of candidate start times (the plan's cost is exact
    whatever the step; a finer step only costs planning time)."""
    min_segment_minutes: float = Field(30.0, ge=0, le=7 * 24 * 60)
    resume_overhead_minutes: float = Field(2.0, ge=0, le=24 * 60)
    split_margin: float = Field(0.0, ge=0, le=0.5)
    """An interruptible job is split only where that beats its best single window by this
    share (0.05: 5 %) of the window's forecast grams; where the forecast states its error,
    at least half of it."""
    lease_seconds: float = Field(60.0, gt=0, le=24 * 3600)
    """Real seconds a claimed run stays ours without a heartbeat."""
    tick_seconds: float = Field(1.0, ge=0.05, le=3600)
    max_retries: int = Field(1, ge=0, le=100)

    def lease(self, factor: float) -> timedelta:
        """A run's lease in domain time: on a clock `factor` times faster than real time,
        `lease_seconds` real seconds last `factor` times as long."""
        return timedelta(seconds=self.lease_seconds * factor)

    """Default times a run lost to a crash is re-queued."""


class TargetSettings(_Section):
    """One launch target (`[[targets]]`): where jobs may run, in which grid zone."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    zone: str = Field(min_length=1)
    """Its grid zone, as the provider names it (e.g. US-CAL-CISO, DE)."""
    kind: Literal["local", "slurm"] = "local"
    """`local`: this host's launcher; `slurm`: the Slurm launcher (sbatch)."""
    gpus: int = Field(ge=1, le=4096)
    """GPUs it lends to gridwait (its planning capacity)."""
    hardware: str | None = None
    """Its GPU model row in the estimator's table (default: a slurm target's partition
    gpu_model, else [energy] hardware)."""
    trace: Path | None = None
    """The `trace` provider's CSV for this zone (default: [grid] trace)."""


class EnergySettings(_Section):
    pue: float = Field(1.0, ge=1.0, le=5.0)
    """Facility energy / IT energy. 1.0 = no facility overhead known (a lab box)."""
    cpu_watts_per_core: float = Field(10.0, gt=0, le=1000)
    """Estimated CPU power per busy core: a mid-range server core's share of TDP
    (a 150 W, 16-core Xeon is about 9.4 W per core)."""
    ram_watts_per_gb: float = Field(0.3725, ge=0, le=100)
    """Green Algorithms' memory power (Lannelongue et al. 2021), W per GB in use."""
    sample_seconds: float = Field(5.0, ge=0.05, le=3600)
    hardware: str | None = None
    """Hardware name from the estimator's table, overriding detection."""


class FootprintSettings(_Section):
    """What operational accounting leaves out: embodied carbon and water (estimators/
    embodied.py and water.py give the defaults and their sources)."""

    embodied_g_per_device_hour: float | None = Field(None, ge=0, le=10_000)
    """gCO2e per GPU-hour (per machine-hour for CPU jobs), replacing the hardware table's."""
    lifetime_years: float | None = Field(None, gt=0, le=50)
    """Re-amortise the table's kilograms over this life (default 6 years)."""
    utilisation: float | None = Field(None, gt=0, le=1)
    """Share of its life a device is reserved by jobs (default 0.85)."""
    wue_l_per_kwh: float = Field(1.8, ge=0, le=100)
    """On-site water per kWh of IT energy; 1.8 is the US data-centre average (Scope3's
    methodology). A lab box without evaporative cooling: 0."""
    grid_water_l_per_kwh: float | None = Field(None, ge=0, le=1000)
    """Water consumed per kWh generated on the grid, replacing the zone table's."""


class ApiSettings(_Section):
    enabled: bool = True
    """`gridwait run` serves the HTTP API beside the scheduler (`--no-api` turns it off)."""
    listen: str = "127.0.0.1:8787"
    """HOST:PORT to serve on; 127.0.0.1 serves this host only (put a TLS proxy in front
    before serving the lab's network: tokens travel in a header)."""
    max_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    """Larger request bodies are refused with 413 (a job spec is a few hundred bytes)."""
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    """A dashboard sign-in lasts this long (hours); signing out ends it sooner."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not HOST:PORT such as 127.0.0.1:8787")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class ClientSettings(_Section):
    """Where the CLI sends user commands instead of the local database ($GRIDWAIT_URL and
    $GRIDWAIT_TOKEN win over these)."""

    url: str | None = None
    token: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value, "http://host:8787")


NotifyEvent = Literal["started", "finished", "failed", "held", "late"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = ("started", "finished", "failed", "held", "late")


class NotifySettings(_Section):
    """Where the scheduler tells people what their jobs did (apprise URLs: e-mail, Slack,
    Matrix, Teams...). A user's own URL is set on their account (`gridwait user notify`);
    these go to the lab. URLs hold credentials: they are secrets, masked when shown."""

    urls: list[SecretStr] = Field(default_factory=list)
    """The lab's targets: every selected event of every job goes to each."""
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS))
    timeout_s: float = Field(10.0, gt=0, le=300)
    """Connect and read timeout of one delivery (real seconds)."""

    @field_validator("urls")
    @classmethod
    def _apprise_urls(cls, values: list[SecretStr]) -> list[SecretStr]:
        for number, value in enumerate(values, 1):
            scheme, sep, rest = value.get_secret_value().partition("://")
            if not sep or not scheme.isalnum() or not rest:
                # never echo the URL: it may hold a password or a webhook token
                raise ValueError(f"URL {number} is not an apprise URL such as mailtos://...")
        return values


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRIDWAIT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    db: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("gridwait") / "gridwait.db"
    )
    log_dir: Path | None = None
    """Worker logs and checkpoints; default: next to the database."""
    electricitymaps_token: SecretStr | None = Field(
        None, validation_alias=_env_alias("electricitymaps_token", "ELECTRICITYMAPS_API_TOKEN")
    )
    electricitymaps_url: str = "https://api.electricitymaps.com/v3"
    uk_url: str = "https://api.carbonintensity.org.uk"
    watttime_user: str | None = Field(
        None, validation_alias=_env_alias("watttime_user", "WATTTIME_USER")
    )
    watttime_password: SecretStr | None = Field(
        None, validation_alias=_env_alias("watttime_password", "WATTTIME_PASSWORD")
    )
    watttime_url: str = "https://api.watttime.org"
    launcher: Literal["local", "slurm"] = "local"
    """Where workers run: processes on this host, or jobs of the Slurm cluster [slurm]."""
    grid: GridSettings = Field(default_factory=GridSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    energy: EnergySettings = Field(default_factory=EnergySettings)
    footprint: FootprintSettings = Field(default_factory=FootprintSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    client: ClientSettings = Field(default_factory=ClientSettings)
    targets: list[TargetSettings] = Field(default_factory=list)
    """Launch targets; none: one, this box ([scheduler] gpus in [grid] zone)."""
    notify: NotifySettings = Field(default_factory=NotifySettings)
    slurm: SlurmSettings = Field(default_factory=SlurmSettings)
    _files: tuple[Path, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _slurm_partition(self) -> Settings:
        if self.launcher == "slurm" and self.slurm.partition not in self.slurm.partitions:
            name = self.slurm.partition
            raise ValueError(
                f'launcher = "slurm" needs a [slurm.partitions.{name}] table (its gpus)'
            )
        return self

    @field_validator("electricitymaps_url", "uk_url", "watttime_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value)

    @field_validator("targets")
    @classmethod
    def _unique_targets(cls, value: list[TargetSettings]) -> list[TargetSettings]:
        names = [t.name for t in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"target name {twice[0]!r} is used twice: name each target once")
        # every slurm target submits to the one [slurm] partition: two would plan its
        # GPUs twice (and in two zones)
        slurm = [t.name for t in value if t.kind == "slurm"]
        if len(slurm) > 1:
            raise ValueError(
                f"targets {', '.join(map(repr, slurm))} are each of kind slurm, but [slurm]"
                " is one cluster partition: make at most one target of kind slurm"
            )
        return value

    def launch_targets(self) -> list[TargetSettings]:
        """The targets jobs may run on: `[[targets]]`, else this box as the only one."""
        if self.targets:
            # a cluster's jobs run on its partition's GPUs, never this host's
            model = self.slurm.target().gpu_model
            return [
                t.model_copy(update={"hardware": model})
                if t.kind == "slurm" and t.hardware is None and model
                else t
                for t in self.targets
            ]
        # not validated: a CPU-only box lends 0 GPUs, which a named target may not
        implicit = TargetSettings.model_construct(
            name=self.launcher,
            zone=self.grid.zone,
            kind=self.launcher,
            gpus=self.gpu_capacity,
            hardware=self.hardware,
        )
        return [implicit]

    @property
    def several_targets(self) -> bool:
        return len(self.targets) > 1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment overrides it.
        return (env_settings, init_settings)

    @property
    def files(self) -> tuple[Path, ...]:
        """The settings files read, in the order read (a later one wins)."""
        return self._files

    @property
    def work_dir(self) -> Path:
        return self.log_dir or self.db.parent / "runs"

    @property
    def gpu_capacity(self) -> int:
        """GPUs the planner may use at once: this box's, or the Slurm partition's."""
        if self.launcher == "slurm":
            return self.slurm.target().gpus
        return self.scheduler.gpus

    @property
    def hardware(self) -> str | None:
        """The hardware row jobs are estimated on: the Slurm partition's GPU model, else
        [energy] hardware (None: detect this host's)."""
        if self.launcher == "slurm" and self.slurm.target().gpu_model:
            return self.slurm.target().gpu_model
        return self.energy.hardware

    def job_dir(self, job_id: int) -> Path:
        """A job's folder: its run logs, checkpoints and trained model."""
        return self.work_dir / f"job-{job_id}"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain JSON values, secrets replaced by stars."""
        return self.model_dump(mode="json")


def config_path(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("GRIDWAIT_CONFIG"):
        return Path(env["GRIDWAIT_CONFIG"]).expanduser()
    return platformdirs.user_config_path("gridwait") / "gridwait.toml"


def site_config_paths(environ: dict[str, str] | None = None) -> list[Path]:
    """Where site-wide settings may be, read in this order before the user's file."""
    env = os.environ if environ is None else environ
    if "GRIDWAIT_SITE_CONFIG" in env:  # tests and unusual sites; empty: no site file
        named = env["GRIDWAIT_SITE_CONFIG"]
        return [Path(named).expanduser()] if named else []
    platform = platformdirs.site_config_path("gridwait") / "gridwait.toml"
    return list(dict.fromkeys([SITE_CONFIG, platform]))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the site's and the user's TOML files (those that exist) and the environment;
    raise ConfigError on mistakes.

    A user file named explicitly (`path`, or $GRIDWAIT_CONFIG) must exist; the default one
    and the site's may not. A mistake is blamed on where it is: a file, or the GRIDWAIT_*
    variable."""
    named = path is not None or bool(os.environ.get("GRIDWAIT_CONFIG"))
    file = path or config_path()
    sites = [site for site in site_config_paths() if site.exists()]
    layers = [(site, read_toml(site, f"config {site}")) for site in sites]
    if file.exists() or named:
        layers.append((file, read_toml(file, f"config {file}")))
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = _merged(data, layer)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(f"{_blame(exc, layers, file)}: {describe_validation(exc)}") from None
    except SettingsError as exc:  # a GRIDWAIT_* variable that is not valid JSON
        raise ConfigError(f"environment: {_env_problem(exc)}") from None
    if overrides:
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    settings._files = tuple(where for where, _ in layers)
    return settings


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`, tables merged key by key."""
    result = dict(base)
    for key, value in over.items():
        below = result.get(key)
        if isinstance(value, dict) and isinstance(below, dict):
            result[key] = _merged(below, value)
        else:
            result[key] = value
    return result


def read_toml(file: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict, or ConfigError naming `what` and the problem."""
    try:
        text = file.read_text(encoding="utf-8-sig")  # a BOM (as Windows editors write) is fine
    except FileNotFoundError:
        raise ConfigError(f"{what}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{what}: is a folder, not a TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: cannot read it ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{what}: nested too deeply to be a settings file") from None


def _blame(exc: ValidationError, layers: list[tuple[Path, dict[str, Any]]], file: Path) -> str:
    """The GRIDWAIT_* variable that set the first invalid field, else the last file that
    sets it (or the user's file)."""
    loc = [str(p) for p in exc.errors()[0]["loc"]]
    for depth in range(len(loc), 0, -1):
        name = "GRIDWAIT_" + "__".join(loc[:depth]).upper()
        if name in os.environ:
            return f"environment {name}"
    deepest, blamed = 0, file
    for where, data in reversed(layers):  # on a tie the later file, which won
        depth = _depth(data, loc)
        if depth > deepest:
            deepest, blamed = depth, where
    return f"config {blamed}"


def _depth(data: Any, loc: list[str]) -> int:
    """How many leading keys of `loc` the nested tables of `data` hold."""
    for depth, key in enumerate(loc):
        if not isinstance(data, dict) or key not in data:
            return depth
        data = data[key]
    return len(loc)


def _env_problem(exc: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(exc))
    name = f"GRIDWAIT_{match.group(1).upper()}" if match else "a GRIDWAIT_* variable"
    return f"{name} is not valid JSON (nested settings are JSON objects, or use {name}__KEY)"


def describe_validation(exc: ValidationError) -> str:
    """The first problem of a pydantic error as `field.path: message`."""
    return describe_errors(exc.errors())


def describe_errors(errors: Sequence[Any]) -> str:
    """The first of pydantic's error dicts as `field.path: message` (and how many more)."""
    err = errors[0]
    where = one_line(".".join(str(p) for p in err["loc"])) or "(top level)"
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown key"
    elif err["type"] == "missing":
        message = "required"
    elif err["type"] == "value_error":  # our own validators' messages already name the input
        message = message.removeprefix("Value error, ")
    else:
        message = message[0].lower() + message[1:]
    given = err.get("input")
    shown = err["type"] not in ("missing", "extra_forbidden", "value_error")
    if shown and isinstance(given, str | int | float):
        message += f" (got {given!r})"
    more = len(errors) - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more else "")
