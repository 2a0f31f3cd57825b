"""Where AND when: every job placed on the launch target (and window) that emits least.

Each target is a pass of its own (its zone's signal, its capacity); jobs are placed in the
same order as on one target (EDF, energy, id) and each goes, among the targets it may use,
to the one whose best placement is on time and has the smallest forecast, ties to the
first target listed (the home one). Only that target's GPUs are taken, so a full clean
target sends the next job to the other one, or to a later window on the clean one,
whichever the forecasts say is greener within the deadline. A single target is exactly
`plan`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner.core import (
    DEFAULTS,
    Choice,
    Inputs,
    choose,
    commit,
    horizon_of,
    new_pass,
    order_of,
    plan,
)
from gridwait.scheduler.planner.model import Placement, PlanJob, PlanOptions, Running
from gridwait.units import format_mass


@dataclass(frozen=True)
class Site:
    """One launch target as the planner sees it."""

    name: str
    zone: str
    forecast: IntensitySeries
    capacity: int | None
    """GPUs it lends (None: unlimited)."""
    running: Sequence[Running] = ()
    fallback: IntensitySeries | None = None

    @property
    def label(self) -> str:
        return self.zone if self.name == self.zone else f"{self.name} ({self.zone})"


def plan_where(
    now: datetime,
    jobs: Sequence[PlanJob],
    sites: Sequence[Site],
    options: PlanOptions = DEFAULTS,
) -> list[Placement]:
    """A placement (with its target, zone and why) for every job, in the order placed."""
    if not sites:
        raise ValueError("plan_where needs at least one site")
    if len(sites) == 1:
        one = sites[0]
        placed = plan(
            now,
            jobs,
            one.forecast,
            one.capacity,
            one.running,
            fallback=one.fallback,
            options=options,
        )
        return [replace(p, target=one.name, zone=one.zone) for p in placed]
    if not jobs:
        return []
    passes = [
        new_pass(
            now,
            horizon_of(now, jobs, site.running),
            Inputs(site.forecast, site.fallback),
            (site.capacity, site.running),
            options,
        )
        for site in sites
    ]
    placements = []
    for job in order_of(jobs):
        allowed = [i for i, s in enumerate(sites) if not job.targets or s.name in job.targets]
        if not allowed:  # a target removed from the settings: anywhere rather than nowhere
            allowed = list(range(len(sites)))
        choices = {i: choose(passes[i], job) for i in allowed}
        best = min(allowed, key=lambda i: _rank(choices[i], i))
        commit(passes[best], job, choices[best])
        why = _why(sites, choices, best)
        chosen = choices[best].placement
        placements.append(
            replace(chosen, target=sites[best].name, zone=sites[best].zone, where=why)
        )
    return placements


def _rank(found: Choice, index: int) -> tuple[bool, float, float, int]:
    """On time first; a late job as early as it can end; then the least forecast grams;
    then the target listed first."""
    p = found.placement
    return (p.late, p.end.timestamp() if p.late else 0.0, p.forecast_g, index)


def _why(sites: Sequence[Site], found: dict[int, Choice], best: int) -> str | None:
    """The chosen target against the best of the others, in one line."""
    others = [i for i in found if i != best]
    if not others:
        return None
    chosen = found[best].placement
    other = min(others, key=lambda i: _rank(found[i], i))
    rival = found[other].placement
    here, there = sites[best].label, sites[other].label
    if rival.late and not chosen.late:
        return f"{there} cannot finish by the deadline ({rival.reason}); {here} can"
    if rival.late:
        return f"late on every target; {here} ends first"
    g_here, g_there = chosen.forecast_g, rival.forecast_g
    if g_here >= g_there:
        return f"{there} and {here} both {format_mass(g_here)} forecast: {here} is listed first"
    saves = 100 * (1 - g_here / g_there)
    vs = f"{there} {format_mass(g_there)} vs {here} {format_mass(g_here)} forecast"
    return f"{vs}: {here} saves {saves:.0f} %"
