"""The one place a launcher is built from the settings (the service's composition root
calls it; a planner with several launch targets would call it once per target)."""

from __future__ import annotations

from gridwait.config import Settings
from gridwait.workers.launchers.base import Launcher


def make_launcher(settings: Settings) -> Launcher:
    """Local processes on this host, or jobs of the Slurm cluster in [slurm]."""
    if settings.launcher == "slurm":
        from gridwait.workers.launchers.slurm import SlurmLauncher

        return SlurmLauncher(settings.slurm)
    from gridwait.workers.launchers.local import LocalLauncher

    return LocalLauncher()
