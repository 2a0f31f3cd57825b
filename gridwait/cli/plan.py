"""`gridwait plan` (a dry run of the planner) and `gridwait budget`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from gridwait.cli.context import JsonFlag, app_context, emit_json, note, out
from gridwait.units import format_mass, format_time, parse_mass_g


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
    from gridwait.grid.factory import build_provider
    from gridwait.scheduler.planning import plan_queue

    app = app_context(ctx)
    provider = build_provider(app.settings, app.clock, app.store())
    report = plan_queue(app.store(), app.settings, app.clock, provider, apply=False)
    if as_json:
        emit_json({"now": report.now, "notes": report.notes, "jobs": plan_rows(report)})
        return
    print_plan(report)


def plan_rows(report: Any) -> list[dict[str, Any]]:
    rows = [_row(p, report.jobs[p.job_id]) for p in report.placements]
    rows += [_held_row(report.jobs[i], reason) for i, reason in report.held.items()]
    return sorted(rows, key=lambda r: r["id"])


def print_plan(report: Any) -> None:
    for line in report.notes:
        note(line)
    rows = plan_rows(report)
    if not rows:
        note("nothing to plan: no queued, held, planned or suspended jobs")
        return
    table = Table(
        "id", "name", "owner", "start (UTC)", "end", "forecast", "run now", "saving", "status"
    )
    for r in rows:
        saving = r["saving_g"]
        pct = (
            f" ({100 * saving / r['run_now_g']:.0f}%)"
            if saving is not None and r["run_now_g"]
            else ""
        )
        status = r["status"] + (f": {r['reason']}" if r["reason"] else "")
        table.add_row(
            str(r["id"]),
            r["name"],
            r["owner"],
            format_time(r["start"]),
            format_time(r["end"]),
            format_mass(r["forecast_g"]),
            format_mass(r["run_now_g"]),
            format_mass(saving) + pct,
            status,
        )
    out.print(table)


def _row(p: Any, job: Any) -> dict[str, Any]:
    return {
        "id": p.job_id,
        "name": job.name,
        "owner": job.owner,
        "project": job.project,
        "status": "late" if p.late else "planned",
        "start": p.start,
        "end": p.end,
        "segments": [[a, b] for a, b in p.segments],
        "forecast_g": p.forecast_g,
        "run_now_g": p.run_now_g,
        "saving_g": p.saving_g,
        "fallback_share": p.fallback_share,
        "source": p.source,
        "reason": p.reason,
    }


def _held_row(job: Any, reason: str) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "owner": job.owner,
        "project": job.project,
        "status": "held",
        "start": None,
        "end": None,
        "segments": [],
        "forecast_g": None,
        "run_now_g": None,
        "saving_g": None,
        "fallback_share": None,
        "source": None,
        "reason": reason,
    }


def _scope(user: str | None, project: str | None) -> tuple[str, str]:
    from gridwait.errors import ConfigError

    if (user is None) == (project is None):
        raise ConfigError("budget: give exactly one of --user or --project")
    return ("user", user) if user is not None else ("project", project or "")


def budget_set(
    ctx: typer.Context,
    monthly: Annotated[str, typer.Option(help="Monthly limit: 40kg, 500g, 1.5t.")],
    user: Annotated[str | None, typer.Option(help="A user's budget.")] = None,
    project: Annotated[str | None, typer.Option(help="A project's budget.")] = None,
) -> None:
    """Set (or change) a monthly carbon budget. Held jobs are re-checked at the next plan."""
    from gridwait.errors import ConfigError
    from gridwait.store.budgets import set_budget

    scope, name = _scope(user, project)
    try:
        grams = parse_mass_g(monthly)
    except ValueError as exc:
        raise ConfigError(f"--monthly: {exc}") from None
    app = app_context(ctx)
    with app.store().write() as session:
        set_budget(session, scope, name, grams, app.clock.now())
    note(f"{scope} {name}: {format_mass(grams)} per month")


def budget_list(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Budgets with this month's use (actual) and commitments (planned and running)."""
    from gridwait.scheduler.budgets import month_bounds
    from gridwait.store.budgets import budgets, month_usage

    app = app_context(ctx)
    now = app.clock.now()
    start, end = month_bounds(now)
    with app.store().read() as session:
        rows = list(budgets(session))
        used, committed = month_usage(session, start, end)
    result: list[dict[str, Any]] = []
    for b in rows:
        key = "owner" if b.scope == "user" else "project"
        spent = sum(float(r["grams"] or 0) for r in used if r[key] == b.name)
        planned = sum(float(r["grams"] or 0) for r in committed if r[key] == b.name)
        result.append(
            {
                "scope": b.scope,
                "name": b.name,
                "monthly_g": b.monthly_g,
                "month": f"{start:%Y-%m}",
                "used_g": spent,
                "committed_g": planned,
                "left_g": b.monthly_g - spent - planned,
            }
        )
    if as_json:
        emit_json(result)
        return
    if not result:
        note(
            "no budgets; whoever runs the CLI on the scheduler host sets them: gridwait budget set"
        )
        return
    table = Table("scope", "name", "per month", f"used {start:%Y-%m}", "committed", "left")
    for r in result:
        table.add_row(
            r["scope"],
            r["name"],
            format_mass(r["monthly_g"]),
            format_mass(r["used_g"]),
            format_mass(r["committed_g"]),
            format_mass(r["left_g"]),
        )
    out.print(table)


def budget_rm(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="A user's budget.")] = None,
    project: Annotated[str | None, typer.Option(help="A project's budget.")] = None,
) -> None:
    """Remove a budget."""
    from gridwait.store.budgets import remove_budget

    scope, name = _scope(user, project)
    app = app_context(ctx)
    with app.store().write() as session:
        remove_budget(session, scope, name)
    note(f"removed the budget of {scope} {name}")
