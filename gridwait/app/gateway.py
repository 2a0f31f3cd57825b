"""What a user's command can ask of gridwait, as one interface with two sides: `Local`
calls the use cases on this host's database; `gridwait.client.Remote` asks a gridwait
service over HTTP. The CLI renders what either returns, so the two modes print the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gridwait.app.actor import Actor
    from gridwait.app.deps import Deps
    from gridwait.app.history import RunFilter
    from gridwait.app.jobs import QueueFilter
    from gridwait.app.views import (
        BudgetView,
        EstimateView,
        ForecastView,
        HistoryRow,
        JobView,
        PlanView,
        QueueRow,
        ReportRow,
        Submitted,
    )
    from gridwait.config import ProviderName
    from gridwait.spec import JobSpec

Progress = Callable[[int, int], None]


class Gateway(Protocol):
    where: str
    """Where the answers come from, for messages: a database path or a URL."""

    def submit(
        self, spec: JobSpec, base_dir: Path, deadline: datetime | None, progress: Progress | None
    ) -> Submitted:
        """Queue a spec; its relative paths start at `base_dir`; `deadline` overrides its own."""
        ...

    def estimate(
        self, spec: JobSpec, base_dir: Path, hardware: str | None, progress: Progress | None
    ) -> EstimateView: ...
    def queue(self, which: QueueFilter) -> list[QueueRow]: ...
    def show(self, job_id: int) -> JobView: ...
    def cancel(self, job_id: int) -> QueueRow: ...
    def plan(self) -> PlanView: ...
    def forecast(
        self, provider: ProviderName | None, zone: str | None, hours: int
    ) -> ForecastView: ...
    def history(self, which: RunFilter) -> list[HistoryRow]: ...
    def report(self, by: str, which: RunFilter) -> list[ReportRow]: ...
    def export(self, fmt: str, which: RunFilter) -> tuple[str, int]: ...
    def budgets(self) -> list[BudgetView]: ...
    def set_budget(
        self, scope: str, name: str, monthly_g: float, counts: str = "operational"
    ) -> BudgetView: ...
    def remove_budget(self, scope: str, name: str) -> None: ...


class Local:
    """The use cases on this host's database, as `actor`."""

    def __init__(self, deps: Deps, actor: Actor) -> None:
        self.deps, self.actor = deps, actor
        self.where = str(deps.settings.db)

    def submit(
        self, spec: JobSpec, base_dir: Path, deadline: datetime | None, progress: Progress | None
    ) -> Submitted:
        from gridwait.app.jobs import submit
        from gridwait.spec import resolve

        sub = resolve(spec, self.deps.clock.now(), base_dir, deadline)
        return submit(self.deps, self.actor, sub, progress)

    def estimate(
        self, spec: JobSpec, base_dir: Path, hardware: str | None, progress: Progress | None
    ) -> EstimateView:
        from gridwait.app.estimates import estimate_spec
        from gridwait.spec import resolve

        sub = resolve(spec, self.deps.clock.now(), base_dir)
        return estimate_spec(self.deps, self.actor, sub, hardware, progress)

    def queue(self, which: QueueFilter) -> list[QueueRow]:
        from gridwait.app.jobs import queue

        return queue(self.deps, self.actor, which)

    def show(self, job_id: int) -> JobView:
        from gridwait.app.jobs import show

        return show(self.deps, self.actor, job_id)

    def cancel(self, job_id: int) -> QueueRow:
        from gridwait.app.jobs import cancel

        return cancel(self.deps, self.actor, job_id)

    def plan(self) -> PlanView:
        from gridwait.app.planning import plan

        return plan(self.deps, self.actor)

    def forecast(self, provider: ProviderName | None, zone: str | None, hours: int) -> ForecastView:
        from gridwait.app.forecasting import forecast

        return forecast(self.deps, self.actor, provider, zone, hours)

    def history(self, which: RunFilter) -> list[HistoryRow]:
        from gridwait.app.history import history

        return history(self.deps, self.actor, which)

    def report(self, by: str, which: RunFilter) -> list[ReportRow]:
        from gridwait.app.history import report

        return report(self.deps, self.actor, by, which)

    def export(self, fmt: str, which: RunFilter) -> tuple[str, int]:
        from gridwait.app.export import render
        from gridwait.app.history import export_rows

        rows = export_rows(self.deps, self.actor, which)
        return render(rows, fmt), len(rows)

    def budgets(self) -> list[BudgetView]:
        from gridwait.app.budgets import usage

        return usage(self.deps, self.actor)

    def set_budget(
        self, scope: str, name: str, monthly_g: float, counts: str = "operational"
    ) -> BudgetView:
        from gridwait.app.budgets import set_budget

        return set_budget(self.deps, self.actor, scope, name, monthly_g, counts)

    def remove_budget(self, scope: str, name: str) -> None:
        from gridwait.app.budgets import remove_budget

        remove_budget(self.deps, self.actor, scope, name)
