"""The review side: `gridwait history`, `gridwait report`, `gridwait export`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gridwait.cli.context import (
    AppContext,
    JsonFlag,
    app_context,
    emit_json,
    note,
    out,
    time_option,
)
from gridwait.units import J_PER_KWH, format_energy, format_mass, format_time, kwh

User = Annotated[str | None, typer.Option("--user", help="Only this owner's runs.")]
Project = Annotated[str | None, typer.Option(help="Only this project's runs.")]
Since = Annotated[
    str | None, typer.Option(help="Runs started at or after (ISO date or time, UTC).")
]
Until = Annotated[str | None, typer.Option(help="Runs started before (ISO date or time, UTC).")]


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(report)
    app.command()(export)


def _bound(text: str | None, option: str) -> str | None:
    from gridwait.store.types import db_text

    return db_text(time_option(text, option))


def _runs(
    app: AppContext, user: str | None, project: str | None, since: str | None, until: str | None
) -> list[dict[str, Any]]:
    from gridwait.store.queries import history_rows

    with app.reader() as conn:
        return history_rows(conn, user, project, _bound(since, "--since"), _bound(until, "--until"))


def _kwh(joules: float | None) -> float | None:
    return None if joules is None else kwh(joules)


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    """How each number was had: the meter or model per component, the measured share of
    the IT energy, and where the intensity came from."""
    return {
        "gpu_method": row["gpu_method"],
        "cpu_method": row["cpu_method"],
        "ram_method": row["ram_method"],
        "measured_share": row["measured_j"] / row["energy_it_j"] if row["energy_it_j"] else 0.0,
        "intensity_source": row["intensity_source"],
    }


def history_json(row: dict[str, Any]) -> dict[str, Any]:
    """A run with units in the key names."""
    facility = row["energy_facility_j"]
    return {
        "run_id": row["run_id"],
        "job_id": row["job_id"],
        "name": row["name"],
        "owner": row["owner"],
        "project": row["project"],
        "state": row["state"],
        "attempt": row["attempt"],
        "segment": row["segment"],
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "duration_s": row["duration_s"],
        "energy_kwh": _kwh(facility),
        "it_energy_kwh": _kwh(row["energy_it_j"]),
        "pue": row["pue"],
        "gpu_kwh": _kwh(row["energy_gpu_j"]),
        "cpu_kwh": _kwh(row["energy_cpu_j"]),
        "ram_kwh": _kwh(row["energy_ram_j"]),
        **_provenance(row),
        "emissions_g": row["emissions_g"],
        "forecast_g": row["forecast_g"],
        "counterfactual_g": row["counterfactual_g"],
        "saving_g": row["saving_g"],
        "provisional": row["emissions_provisional"],
        "tokens_real": row["tokens_real"],
        "tokens_padded": row["tokens_padded"],
        "steps": row["steps"],
        "train_loss": row["final_loss"],
        "train_accuracy": row["accuracy"],
        "hardware": row["hardware"],
        "estimated_energy_kwh": _kwh(row["est_energy_j"]),
    }


def history(
    ctx: typer.Context,
    user: User = None,
    project: Project = None,
    since: Since = None,
    until: Until = None,
    as_json: JsonFlag = False,
) -> None:
    """One row per run: energy, emissions, the saving vs run-now, measured vs estimated,
    provisional vs settled."""
    rows = [history_json(r) for r in _runs(app_context(ctx), user, project, since, until)]
    if as_json:
        emit_json(rows)
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
        "gCO2e",
        "saving",
        "measured",
        "status",
    )
    for r in rows:
        measured = "measured" if r["measured_share"] >= 0.5 else "estimated"
        table.add_row(
            str(r["run_id"]),
            f"{r['job_id']} {r['name']}",
            r["owner"],
            r["project"],
            format_time(r["started_at"]),
            r["state"],
            format_energy(None if r["energy_kwh"] is None else r["energy_kwh"] * J_PER_KWH),
            format_mass(r["emissions_g"]),
            format_mass(r["saving_g"]),
            measured,
            "provisional" if r["provisional"] else "settled",
        )
    out.print(table)


def _group(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def report(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="user, project or month.")] = "project",
    user: User = None,
    project: Project = None,
    since: Since = None,
    until: Until = None,
    as_json: JsonFlag = False,
) -> None:
    """Totals by user, project or month: energy, emissions, saving (g and %), budget use,
    and the share of energy that was measured rather than estimated."""
    from gridwait.errors import ConfigError

    if by not in ("user", "project", "month"):
        raise ConfigError(f"--by: expected user, project or month, got {by!r}")
    app = app_context(ctx)
    rows = _runs(app, user, project, since, until)
    keyfn: Callable[[dict[str, Any]], str] = {
        "user": lambda r: r["owner"],
        "project": lambda r: r["project"],
        "month": lambda r: r["started_at"].strftime("%Y-%m"),
    }[by]
    budgets = _budgets(app) if by != "month" else {}
    result = []
    for name, group in sorted(_group(rows, keyfn).items()):
        result.append(
            _totals(by, name, group, budgets.get(("user" if by == "user" else "project", name)))
        )
    if as_json:
        emit_json(result)
        return
    if not result:
        note("no runs yet")
        return
    table = Table(
        by,
        "runs",
        "energy",
        "gCO2e",
        "run-now gCO2e",
        "saving",
        "measured",
        "provisional",
        "budget",
    )
    for r in result:
        saving = (
            f"{format_mass(r['saving_g'])} ({r['saving_pct']:.0f}%)"
            if r["saving_pct"] is not None
            else "-"
        )
        budget = (
            "-"
            if r["budget_monthly_g"] is None
            else f"{r['budget_used_pct']:.0f}% of {format_mass(r['budget_monthly_g'])}"
        )
        table.add_row(
            r[by],
            str(r["runs"]),
            format_energy(r["energy_kwh"] * J_PER_KWH),
            format_mass(r["emissions_g"]),
            format_mass(r["counterfactual_g"]),
            saving,
            f"{100 * r['measured_share']:.0f}%",
            str(r["provisional_runs"]),
            budget,
        )
    out.print(table)


def _totals(
    by: str, name: str, rows: list[dict[str, Any]], budget: tuple[float, float] | None
) -> dict[str, Any]:
    emitted = sum(r["emissions_g"] or 0.0 for r in rows)
    counter = sum(r["counterfactual_g"] or 0.0 for r in rows if r["counterfactual_g"] is not None)
    compared = [r for r in rows if r["saving_g"] is not None]
    saving = sum(r["saving_g"] for r in compared)
    base = sum(r["counterfactual_g"] for r in compared)
    it = sum(r["energy_it_j"] or 0.0 for r in rows)
    return {
        by: name,
        "runs": len(rows),
        "energy_kwh": sum(r["energy_facility_j"] or 0.0 for r in rows) / J_PER_KWH,
        "emissions_g": emitted,
        "counterfactual_g": counter,
        "saving_g": saving,
        "saving_pct": 100 * saving / base if base else None,
        "measured_share": sum(r["measured_j"] for r in rows) / it if it else 0.0,
        "provisional_runs": sum(1 for r in rows if r["emissions_provisional"]),
        "budget_monthly_g": budget[0] if budget else None,
        "budget_used_g": budget[1] if budget else None,
        "budget_used_pct": 100 * budget[1] / budget[0] if budget else None,
    }


def _budgets(app: AppContext) -> dict[tuple[str, str], tuple[float, float]]:
    """This month's (limit, used + committed) per budget."""
    from gridwait.scheduler.budgets import month_bounds
    from gridwait.store.budgets import budgets, month_usage

    start, end = month_bounds(app.clock.now())
    with app.store().read() as session:
        limits = list(budgets(session))
        used, committed = month_usage(session, start, end)
    out_: dict[tuple[str, str], tuple[float, float]] = {}
    for b in limits:
        key = "owner" if b.scope == "user" else "project"
        spent = sum(float(r["grams"] or 0) for r in [*used, *committed] if r[key] == b.name)
        out_[(b.scope, b.name)] = (b.monthly_g, spent)
    return out_


# CodeCarbon's emissions.csv names wherever a column means the same thing (units as
# CodeCarbon: kg, kWh, W, s), then gridwait's own columns.
CODECARBON = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "region",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "tracking_mode",
    "pue",
)
GRIDWAIT = (
    "job_name",
    "owner",
    "state",
    "started_at",
    "forecast_emissions",
    "counterfactual_emissions",
    "emissions_saved",
    "emissions_provisional",
    "intensity_source",
    "gpu_method",
    "cpu_method",
    "ram_method",
    "measured_share",
    "tokens_real",
    "tokens_padded",
)


def export_row(row: dict[str, Any], zone: str) -> dict[str, Any]:
    seconds = row["duration_s"] or 0.0
    kg = None if row["emissions_g"] is None else row["emissions_g"] / 1000
    gpu = row["gpus"] > 0

    def watts(joules: float | None) -> float | None:
        return None if joules is None or not seconds else joules / seconds

    def kg_of(grams: float | None) -> float | None:
        return None if grams is None else grams / 1000

    return {
        "timestamp": row["ended_at"],
        "project_name": row["project"],
        "run_id": row["run_id"],
        "experiment_id": row["job_id"],
        "duration": seconds,
        "emissions": kg,
        "emissions_rate": kg / seconds if kg is not None and seconds else None,
        "cpu_power": watts(row["energy_cpu_j"]),
        "gpu_power": watts(row["energy_gpu_j"]),
        "ram_power": watts(row["energy_ram_j"]),
        "cpu_energy": _kwh(row["energy_cpu_j"]),
        "gpu_energy": _kwh(row["energy_gpu_j"]),
        "ram_energy": _kwh(row["energy_ram_j"]),
        "energy_consumed": _kwh(row["energy_facility_j"]),
        "region": zone,
        "cpu_model": None if gpu else row["hardware"],
        "gpu_count": row["gpus"],
        "gpu_model": row["hardware"] if gpu else None,
        "tracking_mode": "process",
        "pue": row["pue"],
        "job_name": row["name"],
        "owner": row["owner"],
        "state": row["state"],
        "started_at": row["started_at"],
        "forecast_emissions": kg_of(row["forecast_g"]),
        "counterfactual_emissions": kg_of(row["counterfactual_g"]),
        "emissions_saved": kg_of(row["saving_g"]),
        "emissions_provisional": row["emissions_provisional"],
        **_provenance(row),
        "tokens_real": row["tokens_real"],
        "tokens_padded": row["tokens_padded"],
    }


def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: stdout).")
    ] = None,
    user: User = None,
    project: Project = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Every run as CSV (CodeCarbon's emissions.csv columns first) or JSON."""
    from gridwait.errors import ConfigError

    if fmt not in ("csv", "json"):
        raise ConfigError(f"--format: expected csv or json, got {fmt!r}")
    app = app_context(ctx)
    rows = [export_row(r, app.settings.grid.zone) for r in _runs(app, user, project, since, until)]
    if fmt == "json":
        text = json.dumps(rows, default=lambda v: v.isoformat(), indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*CODECARBON, *GRIDWAIT], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
            )
        text = buffer.getvalue()
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text)
        note(f"wrote {len(rows)} run(s) to {out_file}")
