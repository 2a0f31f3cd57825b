"""`gridwait plan` (a dry run of the planner) and `gridwait budget`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gridwait.cli.context import JsonFlag, app_context, emit_view, note, out
from gridwait.units import format_mass, format_time, parse_mass_g

if TYPE_CHECKING:
    from gridwait.app.views import PlanView


BudgetUser = Annotated[str | None, typer.Option("--user", "-u", help="A user's budget.")]
BudgetProject = Annotated[str | None, typer.Option("--project", "-p", help="A project's budget.")]


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
    budget = typer.Typer(
        help="Carbon budgets per user and project (gCO2eq per calendar month).",
        no_args_is_help=True,
    )
    budget.command("set")(budget_set)
    budget.command("list")(budget_list)
    budget.command("rm")(budget_rm)
    app.add_typer(budget, name="budget")


def plan_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Plan the queue against the current forecast; starts and writes nothing."""
    view = app_context(ctx).gateway.plan()
    if as_json:
        emit_view(view)
        return
    print_plan(view)


def print_plan(view: PlanView) -> None:
    for line in view.notes:
        note(line)
    if not view.jobs:
        note("nothing to plan: no queued, held, planned or suspended jobs")
        return
    several = any(r.where for r in view.jobs)  # the target column only where there is a choice
    columns = ["id", "name", "owner", "start (UTC)", "end", "forecast", "run now", "saving"]
    table = Table(*columns, *(["where"] if several else []), "status")
    for r in view.jobs:
        saving = r.saving_g
        pct = f" ({100 * saving / r.run_now_g:.0f}%)" if saving is not None and r.run_now_g else ""
        status = r.status + (f": {r.reason}" if r.reason else "")
        where = [f"{r.target} ({r.zone}): {r.where}" if r.where else r.target or ""]
        table.add_row(
            str(r.id),
            r.name,
            r.owner,
            format_time(r.start),
            format_time(r.end),
            format_mass(r.forecast_g),
            format_mass(r.run_now_g),
            format_mass(saving) + pct,
            *(where if several else []),
            status,
        )
    out.print(table)


def _scope(user: str | None, project: str | None) -> tuple[str, str]:
    from gridwait.errors import ConfigError

    if (user is None) == (project is None):
        raise ConfigError("budget: give exactly one of --user or --project")
    return ("user", user) if user is not None else ("project", project or "")


def budget_set(
    ctx: typer.Context,
    monthly: Annotated[str, typer.Option(help="Monthly limit: 40kg, 500g, 1.5t.")],
    user: BudgetUser = None,
    project: BudgetProject = None,
    counts: Annotated[
        str, typer.Option(help="operational, or total (operational + embodied).")
    ] = "operational",
) -> None:
    """Set (or change) a monthly carbon budget. Held jobs are re-checked at the next plan."""
    from gridwait.errors import ConfigError

    scope, name = _scope(user, project)
    try:
        grams = parse_mass_g(monthly)
    except ValueError as exc:
        raise ConfigError(f"--monthly: {exc}") from None
    app = app_context(ctx)
    app.gateway.set_budget(scope, name, grams, counts)
    note(f"{scope} {name}: {format_mass(grams)} per month of {counts} emissions")


def budget_list(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Budgets with this month's use (actual) and commitments (planned and running)."""

    app = app_context(ctx)
    result = app.gateway.budgets()
    if as_json:
        emit_view(result)
        return
    if not result:
        note(
            "no budgets; whoever runs the CLI on the scheduler host sets them: gridwait budget set"
        )
        return
    month = result[0].month
    table = Table("scope", "name", "per month", "counts", f"used {month}", "committed", "left")
    for r in result:
        table.add_row(
            r.scope,
            r.name,
            format_mass(r.monthly_g),
            "total (operational + embodied)" if r.counts == "total" else "operational",
            format_mass(r.used_g),
            format_mass(r.committed_g),
            format_mass(r.left_g),
        )
    out.print(table)


def budget_rm(
    ctx: typer.Context,
    user: BudgetUser = None,
    project: BudgetProject = None,
) -> None:
    """Remove a budget."""

    scope, name = _scope(user, project)
    app = app_context(ctx)
    app.gateway.remove_budget(scope, name)
    note(f"removed the budget of {scope} {name}")
