"""The lab's aggregates for monitoring (the API's /metrics): jobs by state, the current
intensity, planned against run-now grams, finished runs' energy and emissions, budget
use, fallbacks. Aggregates only: anyone with a token may read them."""

from __future__ import annotations

from gridwait.app.actor import Actor
from gridwait.app.budgets import usage
from gridwait.app.deps import Deps
from gridwait.app.views import LabMetrics


def lab_metrics(deps: Deps, actor: Actor) -> LabMetrics:
    from gridwait.grid.series import FALLBACK_TAG
    from gridwait.store import metrics

    zone = deps.settings.grid.zone
    tagged = f"%{FALLBACK_TAG}%"  # as the planner and the accounting label a fallback
    with deps.reader() as conn:
        states = metrics.jobs_by_state(conn)
        planned, run_now, plans_fallback = metrics.waiting_plans(conn, tagged)
        runs, kwh, grams, saved, runs_fallback = metrics.finished_runs(conn, tagged)
        now = metrics.current_intensity(conn, zone, deps.clock.now())
    budgets = {f"{b.scope}/{b.name}": 100.0 * b.used_g / b.monthly_g for b in usage(deps, actor)}
    return LabMetrics(
        jobs_by_state=states,
        intensity_g_per_kwh=None if now is None else now[0],
        intensity_provider=None if now is None else now[1],
        zone=zone,
        planned_g=planned,
        run_now_g=run_now,
        plans_on_fallback=plans_fallback,
        finished_runs=runs,
        finished_energy_kwh=kwh,
        finished_emissions_g=grams,
        finished_saving_g=saved,
        runs_on_fallback=runs_fallback,
        budget_used_pct=budgets,
    )
