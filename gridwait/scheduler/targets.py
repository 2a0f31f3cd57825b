"""The launch targets the service dispatches to: one launcher per target, and which
target (and zone) a job or run belongs to.

A target of kind `local` runs workers on this host (the local launcher); one of kind
`slurm` submits them to the cluster of [slurm] through the Slurm launcher; both are built
by `workers.launchers.factory.make_launcher`."""

from __future__ import annotations

import logging

from gridwait.config import Settings, TargetSettings
from gridwait.errors import LaunchError
from gridwait.store.models import Run
from gridwait.workers.launchers.base import Launcher, Status
from gridwait.workers.launchers.factory import make_launcher

log = logging.getLogger("gridwait.service")


def target_launchers(settings: Settings, main: Launcher) -> dict[str, Launcher]:
    """Target name -> its launcher: `main` (built from `launcher`) for targets of its kind,
    the other kind's launcher built once for the rest (a local box beside a cluster)."""
    built: dict[str, Launcher] = {settings.launcher: main}
    launchers = {}
    for target in settings.launch_targets():
        if target.kind not in built:
            other = settings.model_copy(update={"launcher": target.kind})
            built[target.kind] = make_launcher(other)
        launchers[target.name] = built[target.kind]
    return launchers


def target_of(settings: Settings, name: str | None) -> TargetSettings:
    """The target called `name`; the first one for None or a name no longer configured
    (a plan or run from before the targets changed)."""
    targets = settings.launch_targets()
    return next((t for t in targets if t.name == name), targets[0])


def poll_runs(
    settings: Settings, launchers: dict[str, Launcher], runs: list[Run]
) -> dict[int, Status]:
    """Run id -> its worker's status, asking each launcher once for all of its runs (a
    cluster's queue is read once a tick, not once a run). Runs without a handle are not
    asked about; nor, this once, are the runs of a launcher that failed to answer (logged),
    so a cluster that does not answer never stops the box's runs being followed."""
    grouped: dict[int, tuple[Launcher, dict[str, int]]] = {}  # its runs: handle -> run id
    for run in runs:
        if run.handle is not None:
            launcher = launchers[target_of(settings, run.target).name]
            grouped.setdefault(id(launcher), (launcher, {}))[1][run.handle] = run.id or 0
    statuses = {}
    for launcher, ids in grouped.values():
        try:
            answers = launcher.poll_all(list(ids))
        except LaunchError as exc:
            log.warning("could not follow %d run(s) this tick: %s", len(ids), exc)
            continue
        statuses.update({ids[handle]: status for handle, status in answers.items()})
    return statuses
