"""The review side: `gridwait history`, `gridwait report`, `gridwait export`. Parsing and
rendering only: the numbers come from gridwait.app.history."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gridwait.cli.context import (
    AppContext,
    JsonFlag,
    Limit,
    Page,
    app_context,
    emit_json,
    emit_view,
    note,
    out,
    page_of,
)
from gridwait.units import format_kwh, format_litres, format_mass, format_time

if TYPE_CHECKING:
    from gridwait.app.history import RunFilter
    from gridwait.app.views import ReportRow

User = Annotated[str | None, typer.Option("--user", "-u", help="Only this owner's runs.")]
Project = Annotated[str | None, typer.Option("--project", "-p", help="Only this project's runs.")]
_TIME = "an ISO date or time (local unless it has an offset or Z), or now-7d"
Job = Annotated[
    int | None,
    typer.Option("--job", "-j", min=1, max=2**63 - 1, help="Only this job's runs."),
]
Since = Annotated[str | None, typer.Option(help=f"Runs started at or after: {_TIME}.")]
Until = Annotated[str | None, typer.Option(help=f"Runs started before: {_TIME}.")]


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(report)
    app.command()(export)


def _filter(
    app: AppContext,
    user: str | None,
    project: str | None,
    since: str | None,
    until: str | None,
    job: int | None = None,
) -> RunFilter:
    from gridwait.app.history import RunFilter
    from gridwait.cli.times import typed_time

    now = app.clock.now()
    first = None if since is None else typed_time(since, "--since", now)
    last = None if until is None else typed_time(until, "--until", now)
    return RunFilter(user, project, first, last, job)


def history(
    ctx: typer.Context,
    user: User = None,
    project: Project = None,
    job: Job = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = None,
    page: Page = 1,
    as_json: JsonFlag = False,
) -> None:
    """One row per run: energy, operational and embodied emissions, water, the saving vs
    run-now, measured vs estimated, provisional vs settled."""

    app = app_context(ctx)
    rows = app.gateway.history(_filter(app, user, project, since, until, job))
    rows = page_of(rows, limit, page, as_json, "runs")
    if as_json:
        emit_view(rows)
        return
    if not rows:
        note("no runs yet")
        return
    table = Table(
        "run",
        "job",
        "owner",
        "project",
        "started (UTC)",
        "state",
        "energy",
        "operational gCO2e",
        "embodied",
        "water",
        "saving",
        "measured",
        "status",
    )
    for r in rows:
        table.add_row(
            str(r.run_id),
            f"{r.job_id} {r.name}",
            r.owner,
            r.project,
            format_time(r.started_at),
            r.state,
            format_kwh(r.energy_kwh),
            format_mass(r.emissions_g),
            format_mass(r.embodied_g),
            format_litres(r.water_l),
            format_mass(r.saving_g),
            "measured" if r.measured_share >= 0.5 else "estimated",
            "provisional" if r.provisional else "settled",
        )
    out.print(table)
    note(
        "operational: facility energy x the reported signal's intensity; embodied: the"
        " devices' manufacturing, amortised over the hours held; water: on site (WUE) +"
        " the grid's where a source is known (history --json gives each run's method)"
    )


def report(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="user, project or month.")] = "project",
    user: User = None,
    project: Project = None,
    since: Since = None,
    until: Until = None,
    as_json: JsonFlag = False,
) -> None:
    """Totals by user, project or month: energy, operational, embodied and total emissions,
    water, saving (g and %), budget use; the footer says which signal is reported and how
    much of the total is measured, estimated and amortised."""

    app = app_context(ctx)
    result = app.gateway.report(by, _filter(app, user, project, since, until))
    if as_json:
        emit_json([r.as_json() for r in result])
        return
    if not result:
        note("no runs yet")
        return
    table = Table(
        by,
        "runs",
        "energy",
        "operational gCO2e",
        "embodied",
        "total",
        "water",
        "run-now gCO2e",
        "saving",
        "measured",
        "provisional",
        "budget",
    )
    for r in result:
        saving = (
            f"{format_mass(r.saving_g)} ({r.saving_pct:.0f}%)" if r.saving_pct is not None else "-"
        )
        budget = (
            "-"
            if r.budget_monthly_g is None
            else f"{r.budget_used_pct:.0f}% of {format_mass(r.budget_monthly_g)}"
            f" {r.budget_counts or 'operational'}"
        )
        table.add_row(
            r.group(),
            str(r.runs),
            format_kwh(r.energy_kwh),
            format_mass(r.emissions_g),
            format_mass(r.embodied_g),
            format_mass(r.total_g),
            format_litres(r.water_l),
            format_mass(r.counterfactual_g),
            saving,
            f"{100 * r.measured_share:.0f}%",
            str(r.provisional_runs),
            budget,
        )
    out.print(table)
    for line in report_footer(result):
        note(line)


def report_footer(rows: list[ReportRow]) -> list[str]:
    """Which signal is reported and which planned on; what share of the total gCO2e is
    measured, estimated and amortised; the methods of embodied carbon and water."""
    total = sum(r.total_g for r in rows)
    share = {
        kind: sum(getattr(r, f"{kind}_g_share") * r.total_g for r in rows) / total if total else 0
        for kind in ("measured", "estimated", "amortised")
    }
    first = rows[0]
    signals = f"operational gCO2e reported on {first.reported_on}"
    if first.planned_on != first.reported_on:
        on_plan = sum(r.planning_g or 0.0 for r in rows)
        signals += (
            f"; jobs planned on {first.planned_on}"
            f" ({format_mass(on_plan)} on that signal, not in any total)"
        )
    return [
        signals,
        f"of the total {format_mass(total)}: {100 * share['measured']:.0f}% measured"
        f" (operational, metered energy), {100 * share['estimated']:.0f}% estimated"
        f" (operational, modelled energy), {100 * share['amortised']:.0f}% amortised"
        " (embodied: hardware manufacturing over its life)",
        "water: on-site WUE x IT energy + the grid's water x facility energy where the zone"
        " has a source (history --json gives each run's method)",
    ]


def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: stdout).")
    ] = None,
    user: User = None,
    project: Project = None,
    job: Job = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Every run as CSV (CodeCarbon's emissions.csv columns first) or JSON."""
    from gridwait.errors import ConfigError

    if fmt not in ("csv", "json"):
        raise ConfigError(f"--format: expected csv or json, got {fmt!r}")
    app = app_context(ctx)
    text, count = app.gateway.export(fmt, _filter(app, user, project, since, until, job))
    if out_file is None:
        sys.stdout.write(text)
    else:
        write_whole(out_file, text, "--out")
        note(f"wrote {count} run(s) to {out_file}")


def write_whole(path: Path, text: str, option: str) -> None:
    """Write `text` to `path` entirely or not at all: a temporary file beside it is renamed
    over it at the end, so a full disk or a bad folder leaves nothing half written."""
    from gridwait.errors import ConfigError

    if path.is_dir():
        raise ConfigError(f"{option}: {path} is a folder; name a file in it")
    if not path.parent.is_dir():
        raise ConfigError(f"{option}: folder {path.parent} does not exist")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"{option}: cannot write {path}: {exc.strerror}") from None
