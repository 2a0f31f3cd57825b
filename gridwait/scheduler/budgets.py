"""Carbon budgets per user and per project per calendar month (UTC), in gCO2eq.

Usage of a month = actual emissions of runs that ended in it + forecast emissions of the
jobs planned or running in it. A budget counts operational emissions (the default) or
the total: operational + embodied (the runs' amortised hardware emissions, and for
planned jobs their estimated hours x the embodied rate). A job whose placement would
take a budget past its limit is held, with the reason: which budget, by how much. Pure:
plain values in and out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gridwait.units import format_mass

if TYPE_CHECKING:
    from gridwait.store.budgets import MonthUsage


@dataclass(frozen=True)
class Limit:
    scope: str
    """user or project"""
    name: str
    monthly_g: float
    counts: str = "operational"
    """operational or total (operational + embodied)"""

    def describe(self) -> str:
        what = "total (operational + embodied)" if self.counts == "total" else "operational"
        return f"{self.scope} {self.name} budget {format_mass(self.monthly_g)}/month, {what}"


@dataclass(frozen=True)
class Candidate:
    """A job about to be placed: who it belongs to and what it would emit when."""

    job_id: int
    owner: str
    project: str
    month: str
    grams: float
    embodied_g: float = 0.0

    def counted(self, counts: str) -> float:
        return self.grams + (self.embodied_g if counts == "total" else 0.0)


@dataclass
class Ledger:
    """Operational and embodied grams used or committed per (scope, name, month)."""

    spent: dict[tuple[str, str, str], tuple[float, float]] = field(default_factory=dict)

    def add(
        self, owner: str, project: str, month: str, grams: float, embodied: float = 0.0
    ) -> None:
        for key in (("user", owner, month), ("project", project, month)):
            op, emb = self.spent.get(key, (0.0, 0.0))
            self.spent[key] = (op + grams, emb + embodied)

    def of(self, scope: str, name: str, month: str, counts: str = "operational") -> float:
        op, emb = self.spent.get((scope, name, month), (0.0, 0.0))
        return op + (emb if counts == "total" else 0.0)

    def add_month(
        self, month: str, usage: MonthUsage, replanning: frozenset[int] = frozenset()
    ) -> None:
        """Count a month's use: what ran, and what is committed except the jobs being
        re-planned now (`replanning`; a running job stays committed)."""
        for owner, project, grams, embodied in usage.used:
            self.add(owner, project, month, grams, embodied)
        for job in usage.committed:
            if job.job_id not in replanning or job.running:
                self.add(job.owner, job.project, month, job.grams, job.embodied_g)


def usage_by_budget(
    month: str, usage: MonthUsage, limits: Sequence[Limit]
) -> dict[tuple[str, str], tuple[float, float]]:
    """(used, committed) grams per (scope, name) of each limit: the one sum behind the
    planner's checks, `budget list`, `plan` and `report`."""
    done, planned = Ledger(), Ledger()
    for owner, project, grams, embodied in usage.used:
        done.add(owner, project, month, grams, embodied)
    for job in usage.committed:
        planned.add(job.owner, job.project, month, job.grams, job.embodied_g)
    return {
        (lim.scope, lim.name): (
            done.of(lim.scope, lim.name, month, lim.counts),
            planned.of(lim.scope, lim.name, month, lim.counts),
        )
        for lim in limits
    }


def month_of(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m")


def month_bounds(when: datetime) -> tuple[datetime, datetime]:
    start = when.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def check(
    candidates: Iterable[Candidate], limits: Sequence[Limit], ledger: Ledger
) -> dict[int, str]:
    """Job ids to hold, with the reason; the others are added to the ledger in order."""
    by_key = {(lim.scope, lim.name): lim for lim in limits}
    held: dict[int, str] = {}
    for job in candidates:
        reason = None
        for scope, name in (("user", job.owner), ("project", job.project)):
            limit = by_key.get((scope, name))
            if limit is None:
                continue
            already = ledger.of(scope, name, job.month, limit.counts)
            grams = job.counted(limit.counts)
            over = already + grams - limit.monthly_g
            if over > 0:
                reason = (
                    f"{limit.describe()}:"
                    f" {format_mass(already)} used or committed in {job.month},"
                    f" this job's {format_mass(grams)} would exceed it by {format_mass(over)}"
                )
                break
        if reason is None:
            ledger.add(job.owner, job.project, job.month, job.grams, job.embodied_g)
        else:
            held[job.job_id] = reason
    return held
