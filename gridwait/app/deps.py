"""What every use case needs: settings, the clock, the store (opened lazily), this
host's hardware and the intensity provider. Built once by an edge and passed in."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from gridwait.clock import Clock
from gridwait.config import Settings

if TYPE_CHECKING:
    from gridwait.estimators.hardware import Hardware
    from gridwait.grid.base import IntensityProvider
    from gridwait.store.engine import Store

HardwareFor = Callable[[int], "tuple[Hardware, str | None]"]
"""What a job with N GPUs runs on, and a note when it had to be assumed."""


class Deps:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        hardware: HardwareFor | None = None,
        provider: IntensityProvider | None = None,
    ) -> None:
        self.settings, self.clock = settings, clock
        self._hardware = hardware
        self._provider = provider
        self._zones: dict[str, IntensityProvider] | None = None
        self._store: Store | None = None

    def store(self) -> Store:
        """The database, opened (and migrated) on first use."""
        if self._store is None:
            from gridwait.store.engine import Store

            self._store = Store(self.settings.db, self.clock)
        return self._store

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """The fast read-only path for listings; migrates through `store()` when needed."""
        from gridwait.store.reader import open_reader

        with open_reader(self.settings.db, upgrade=self.store) as conn:
            yield conn

    def hardware_for(self, gpus: int) -> tuple[Hardware, str | None]:
        if self._hardware is None:
            from gridwait.workers.detect import hardware_for

            energy = self.settings.energy
            return hardware_for(gpus, self.settings.hardware, energy.cpu_watts_per_core)
        return self._hardware(gpus)

    def provider(self) -> IntensityProvider:
        if self._provider is None:
            from gridwait.grid.factory import build_provider

            self._provider = build_provider(self.settings, self.clock, self.store())
        return self._provider

    def zone_providers(self) -> dict[str, IntensityProvider]:
        """The provider of each launch target's zone (`provider()` for most)."""
        if self._zones is None:
            from gridwait.grid.factory import zone_providers

            self._zones = zone_providers(self.settings, self.clock, self.store(), self.provider())
        return self._zones

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
