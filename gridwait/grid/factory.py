"""Build the configured provider chain from Settings."""

from __future__ import annotations

from datetime import timedelta

from gridwait.clock import Clock
from gridwait.config import ProviderName, Settings
from gridwait.errors import ConfigError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.chain import CachingProvider, FallbackProvider
from gridwait.grid.electricitymaps import ElectricityMapsProvider
from gridwait.grid.http import HttpClient, HttpPolicy
from gridwait.grid.profile import ProfileProvider, profile_zone
from gridwait.grid.profiles_data import PROFILES
from gridwait.grid.trace import TraceProvider, load_trace
from gridwait.grid.uk import UKProvider
from gridwait.grid.watttime import WattTimeProvider
from gridwait.store.engine import Store


def base_provider(
    settings: Settings, clock: Clock, name: ProviderName | None = None
) -> IntensityProvider:
    """The bare provider (no cache, no fallback)."""
    grid = settings.grid
    name = name or grid.provider

    def http(provider: str, url: str) -> HttpClient:
        policy = HttpPolicy(
            timeout_s=grid.timeout_s, retries=grid.retries, max_retry_after_s=grid.max_retry_after_s
        )
        return HttpClient(provider, url, sleep=clock.sleep, policy=policy)

    if name == "electricitymaps":
        token = (
            settings.electricitymaps_token.get_secret_value()
            if settings.electricitymaps_token
            else None
        )
        return ElectricityMapsProvider(
            http(name, settings.electricitymaps_url), token, clock, grid.emission_factor_type
        )
    if name == "uk":
        return UKProvider(http(name, settings.uk_url), clock)
    if name == "watttime":
        password = (
            settings.watttime_password.get_secret_value() if settings.watttime_password else None
        )
        return WattTimeProvider(
            http(name, settings.watttime_url), settings.watttime_user, password, clock
        )
    if name == "trace":
        if grid.trace is None:
            raise ConfigError(
                "grid.trace: the trace provider needs a trace file (grid.trace = PATH)"
            )
        trace = load_trace(grid.trace, grid.time_column, grid.value_column)
        shift = (
            TraceProvider.aligned_shift(trace, clock.now())
            if grid.trace_align == "now"
            else timedelta(0)
        )
        return TraceProvider(
            trace, grid.forecast, grid.seed, timedelta(hours=grid.horizon_hours), grid.zone, shift
        )
    return ProfileProvider()


def build_provider(
    settings: Settings, clock: Clock, store: Store | None, name: ProviderName | None = None
) -> IntensityProvider:
    """The provider the scheduler plans with: cached (HTTP providers) and with fallbacks."""
    provider = base_provider(settings, clock, name)
    if isinstance(provider, ProfileProvider):
        return provider
    grid = settings.grid
    if store is not None and not isinstance(provider, TraceProvider):
        provider = CachingProvider(
            provider, store, clock, timedelta(minutes=grid.cache_ttl_minutes)
        )
    return FallbackProvider(provider, clock, store, timedelta(hours=grid.fallback_max_age_hours))


def reporting_provider(
    settings: Settings, clock: Clock, store: Store | None, planning: IntensityProvider
) -> IntensityProvider:
    """The provider runs are accounted and reported on: `planning` itself unless
    `grid.report_provider` names another signal."""
    name = settings.grid.report_provider
    if name is None or name == settings.grid.provider:
        return planning
    return build_provider(settings, clock, store, name)


def zone_providers(
    settings: Settings, clock: Clock, store: Store | None, planning: IntensityProvider
) -> dict[str, IntensityProvider]:
    """One planning provider per launch target's zone (`planning` serves every zone it
    can; a target with its own trace gets a trace provider of its own). ConfigError, in
    one line, for a zone the provider cannot serve."""
    grid = settings.grid
    out: dict[str, IntensityProvider] = {}
    traces: dict[str, object] = {}
    for target in settings.launch_targets():
        where = f"targets.{target.name}"
        if target.trace is not None:
            if traces.setdefault(target.zone, target.trace) != target.trace:
                raise ConfigError(f"{where}.trace: zone {target.zone} already has another trace")
            own = grid.model_copy(update={"trace": target.trace, "zone": target.zone})
            if target.zone not in out or out[target.zone] is planning:
                out[target.zone] = build_provider(
                    settings.model_copy(update={"grid": own}), clock, store, "trace"
                )
            continue
        _check_zone(settings, where, target.zone)
        out.setdefault(target.zone, planning)
    return out


def _check_zone(settings: Settings, where: str, zone: str) -> None:
    """Refuse a zone the configured provider is known not to serve (the HTTP providers
    can only tell when asked)."""
    grid = settings.grid
    if not settings.targets:
        return  # the implicit target is [grid] zone: checked where it always was
    if grid.provider == "profile" and profile_zone(zone) is None:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(
            f"{where}.zone: the profile provider has no zone {zone!r} (known: {known})"
        )
    if grid.provider == "trace" and zone != grid.zone:
        raise ConfigError(
            f"{where}.zone: the trace provider's [grid] trace is zone {grid.zone!r};"
            f" give target {where.split('.')[1]!r} its own trace = PATH"
        )
