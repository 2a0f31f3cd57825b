"""The launch targets the service dispatches to: one launcher per target, and which
target (and zone) a job or run belongs to.

A target of kind `local` runs workers on this host (the local launcher); one of kind
`slurm` submits them to its cluster through the Slurm launcher, built by
`slurm_launcher` (the single hook the Slurm work plugs into)."""

from __future__ import annotations

from collections.abc import Callable

from gridwait.config import Settings, TargetSettings
from gridwait.errors import ConfigError
from gridwait.workers.launchers.base import Launcher


def target_launchers(settings: Settings, local: Callable[[], Launcher]) -> dict[str, Launcher]:
    """Target name -> its launcher; `local` builds the local one. ConfigError (one line)
    for a target whose launcher cannot be built."""
    return {
        t.name: local() if t.kind == "local" else slurm_launcher(settings, t)
        for t in settings.launch_targets()
    }


def slurm_launcher(settings: Settings, target: TargetSettings) -> Launcher:
    """The Slurm launcher of a `slurm` target.

    MERGE (issue 18, the Slurm launcher): return
    `gridwait.workers.launchers.factory.make_launcher` for this target's cluster, i.e.
    `SlurmLauncher(settings.slurm)` (its partition per target once [slurm] names them)."""
    del settings
    raise ConfigError(
        f"targets.{target.name}: slurm targets need the Slurm launcher, not in this build"
    )


def target_of(settings: Settings, name: str | None) -> TargetSettings:
    """The target called `name`; the first one for None or a name no longer configured
    (a plan or run from before the targets changed)."""
    targets = settings.launch_targets()
    return next((t for t in targets if t.name == name), targets[0])
