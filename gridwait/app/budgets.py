"""Carbon budgets: admins set and remove them; everyone reads them with this month's use.

`usage` is the one answer to "how much of each budget is used and committed this month";
the planner's checks count the same rows through the same Ledger (scheduler/budgets.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import BudgetView
from gridwait.errors import ConfigError, one_line
from gridwait.scheduler.budgets import Limit, month_bounds, usage_by_budget

Scope = Literal["user", "project"]
Counts = Literal["operational", "total"]


def _check_scope(scope: str, name: str) -> None:
    if scope not in ("user", "project"):
        raise ConfigError(f"budget: scope must be user or project, got {scope!r}")
    if not name.strip():
        raise ConfigError(f"budget: the {scope} name is empty")
    if one_line(name) != name:
        raise ConfigError(f"budget: the {scope} name {name!r} holds control characters")


def set_budget(
    deps: Deps,
    actor: Actor,
    scope: str,
    name: str,
    monthly_g: float,
    counts: str = "operational",
) -> BudgetView:
    """Set or change a monthly budget in gCO2eq (admins only), counting operational or
    total (operational + embodied) emissions; held jobs are re-checked at the next plan."""
    from gridwait.store.budgets import set_budget as store_set

    actor.require_admin(f"set the budget of {scope} {name}")
    _check_scope(scope, name)
    if not monthly_g > 0:
        raise ConfigError(f"budget: the monthly limit must be positive, got {monthly_g:g} g")
    if counts not in ("operational", "total"):
        raise ConfigError(f"budget: counts must be operational or total, got {counts!r}")
    with deps.store().write() as session:
        store_set(session, scope, name, monthly_g, deps.clock.now(), counts)
    return next(b for b in usage(deps, actor) if (b.scope, b.name) == (scope, name))


def remove_budget(deps: Deps, actor: Actor, scope: str, name: str) -> None:
    from gridwait.store.budgets import remove_budget as store_remove

    actor.require_admin(f"remove the budget of {scope} {name}")
    _check_scope(scope, name)
    with deps.store().write() as session:
        store_remove(session, scope, name)


def usage(deps: Deps, actor: Actor, when: datetime | None = None) -> list[BudgetView]:
    """Every budget with its month's use (runs that ended) and commitments (jobs planned
    or running), for the month containing `when` (default: now)."""
    from gridwait.scheduler.footprint import planned_rate
    from gridwait.store.budgets import budgets, month_usage

    del actor  # budgets are the lab's: everyone may read them
    start, end = month_bounds(when or deps.clock.now())
    with deps.store().read() as session:
        limits = [Limit(b.scope, b.name, b.monthly_g, b.counts) for b in budgets(session)]
        rate = planned_rate(deps.settings.footprint, deps.settings.hardware)
        month = month_usage(session, start, end, rate)
    label = f"{start:%Y-%m}"
    spent = usage_by_budget(label, month, limits)
    views = []
    for lim in limits:
        used, committed = spent[(lim.scope, lim.name)]
        views.append(
            BudgetView(
                scope=lim.scope,
                name=lim.name,
                monthly_g=lim.monthly_g,
                counts=lim.counts,
                month=label,
                used_g=used,
                committed_g=committed,
                left_g=lim.monthly_g - used - committed,
            )
        )
    return views
