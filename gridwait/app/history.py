"""The lab's shared record: history (one row per run), reports (totals by user, project
or month, with budget use) and export rows (CodeCarbon's emissions.csv columns first).
Every member reads all of it: emission history is the lab's, not one person's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gridwait.app.actor import Actor
from gridwait.app.budgets import usage
from gridwait.app.deps import Deps
from gridwait.app.export import ExportRow, export_row
from gridwait.app.views import HistoryRow, ReportRow
from gridwait.errors import ConfigError
from gridwait.units import J_PER_KWH, kwh_or_none

GroupBy = Literal["user", "project", "month"]


@dataclass(frozen=True)
class RunFilter:
    """Which runs: an owner, a project, and bounds on the run's start (UTC)."""

    owner: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    job_id: int | None = None


def _rows(deps: Deps, which: RunFilter) -> list[dict[str, Any]]:
    from gridwait.store.queries import history_rows
    from gridwait.store.types import db_text

    with deps.reader() as conn:
        return history_rows(
            conn,
            which.owner,
            which.project,
            db_text(which.since),
            db_text(which.until),
            which.job_id,
        )


def measured_share(row: dict[str, Any]) -> float:
    return float(row["measured_j"] / row["energy_it_j"]) if row["energy_it_j"] else 0.0


def total_g(row: dict[str, Any]) -> float | None:
    """Operational + embodied gCO2e of a run; None while either is unknown."""
    if row["emissions_g"] is None or row["embodied_g"] is None:
        return None
    return float(row["emissions_g"] + row["embodied_g"])


def history(deps: Deps, actor: Actor, which: RunFilter) -> list[HistoryRow]:
    """One row per run that started, oldest first."""
    del actor  # the lab's shared record
    return [_history_row(r) for r in _rows(deps, which)]


def _history_row(row: dict[str, Any]) -> HistoryRow:
    return HistoryRow(
        run_id=row["run_id"],
        job_id=row["job_id"],
        name=row["name"],
        owner=row["owner"],
        project=row["project"],
        state=row["state"],
        attempt=row["attempt"],
        segment=row["segment"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        duration_s=row["duration_s"],
        energy_kwh=kwh_or_none(row["energy_facility_j"]),
        it_energy_kwh=kwh_or_none(row["energy_it_j"]),
        pue=row["pue"],
        gpu_kwh=kwh_or_none(row["energy_gpu_j"]),
        cpu_kwh=kwh_or_none(row["energy_cpu_j"]),
        ram_kwh=kwh_or_none(row["energy_ram_j"]),
        gpu_method=row["gpu_method"],
        cpu_method=row["cpu_method"],
        ram_method=row["ram_method"],
        measured_share=measured_share(row),
        intensity_source=row["intensity_source"],
        emissions_g=row["emissions_g"],
        forecast_g=row["forecast_g"],
        counterfactual_g=row["counterfactual_g"],
        saving_g=row["saving_g"],
        provisional=row["emissions_provisional"],
        embodied_g=row["embodied_g"],
        embodied_method=row["embodied_method"],
        embodied_source=row["embodied_source"],
        total_g=total_g(row),
        water_l=row["water_l"],
        water_method=row["water_method"],
        planning_g=row["planning_g"],
        planning_source=row["planning_source"],
        tokens_real=row["tokens_real"],
        tokens_padded=row["tokens_padded"],
        steps=row["steps"],
        train_loss=row["final_loss"],
        train_accuracy=row["accuracy"],
        eval_examples=row["eval_examples"],
        eval_loss=row["eval_loss"],
        eval_accuracy=row["eval_accuracy"],
        hardware=row["hardware"],
        estimated_energy_kwh=kwh_or_none(row["est_energy_j"]),
    )


def report(deps: Deps, actor: Actor, by: str, which: RunFilter) -> list[ReportRow]:
    """Totals per user, project or month: energy, emissions, run-now emissions, saving (g
    and %), measured share, provisional runs, and this month's budget use."""
    if by not in ("user", "project", "month"):
        raise ConfigError(f"--by: expected user, project or month, got {by!r}")
    rows = _rows(deps, which)
    keyfn: Callable[[dict[str, Any]], str] = {
        "user": lambda r: r["owner"],
        "project": lambda r: r["project"],
        "month": lambda r: r["started_at"].strftime("%Y-%m"),
    }[by]
    budgets: dict[tuple[str, str], tuple[float, float, str]] = {}
    if by != "month":
        for b in usage(deps, actor):
            budgets[(b.scope, b.name)] = (b.monthly_g, b.used_g + b.committed_g, b.counts)
    scope = "user" if by == "user" else "project"
    grid = deps.settings.grid
    signals = (grid.report_provider or grid.provider, grid.provider)
    return [
        _totals(by, name, group, budgets.get((scope, name)), signals)
        for name, group in sorted(_group(rows, keyfn).items())
    ]


def _group(
    rows: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def _shares(rows: list[dict[str, Any]]) -> tuple[float, float, float]:
    """Shares of the total grams that come from measured energy, from estimated energy,
    and from amortised embodied carbon. A run's operational grams are split by the share
    of its energy that was measured."""
    measured = estimated = amortised = 0.0
    for r in rows:
        grams = r["emissions_g"] or 0.0
        part = measured_share(r)
        measured += grams * part
        estimated += grams * (1 - part)
        amortised += r["embodied_g"] or 0.0
    total = measured + estimated + amortised
    if total <= 0:
        return 0.0, 0.0, 0.0
    return measured / total, estimated / total, amortised / total


def _totals(
    by: str,
    name: str,
    rows: list[dict[str, Any]],
    budget: tuple[float, float, str] | None,
    signals: tuple[str, str],
) -> ReportRow:
    compared = [r for r in rows if r["saving_g"] is not None]
    saving = sum(r["saving_g"] for r in compared)
    base = sum(r["counterfactual_g"] for r in compared)
    it = sum(r["energy_it_j"] or 0.0 for r in rows)
    operational = sum(r["emissions_g"] or 0.0 for r in rows)
    embodied = sum(r["embodied_g"] or 0.0 for r in rows)
    on_plan = [r["planning_g"] for r in rows if r["planning_g"] is not None]
    measured, estimated, amortised = _shares(rows)
    return ReportRow(
        **{by: name},
        runs=len(rows),
        energy_kwh=sum(r["energy_facility_j"] or 0.0 for r in rows) / J_PER_KWH,
        emissions_g=operational,
        embodied_g=embodied,
        total_g=operational + embodied,
        water_l=sum(r["water_l"] or 0.0 for r in rows),
        reported_on=signals[0],
        planned_on=signals[1],
        planning_g=sum(on_plan) if on_plan else None,
        measured_g_share=measured,
        estimated_g_share=estimated,
        amortised_g_share=amortised,
        counterfactual_g=sum(r["counterfactual_g"] or 0.0 for r in rows),
        saving_g=saving,
        saving_pct=100 * saving / base if base else None,
        measured_share=sum(r["measured_j"] for r in rows) / it if it else 0.0,
        provisional_runs=sum(1 for r in rows if r["emissions_provisional"]),
        budget_monthly_g=budget[0] if budget else None,
        budget_used_g=budget[1] if budget else None,
        budget_used_pct=100 * budget[1] / budget[0] if budget else None,
        budget_counts=budget[2] if budget else None,
    )


def export_rows(deps: Deps, actor: Actor, which: RunFilter) -> list[ExportRow]:
    """Every run as an export row (see export.py for the columns)."""
    del actor  # the lab's shared record
    zone, wue = deps.settings.grid.zone, deps.settings.footprint.wue_l_per_kwh
    return [export_row(r, zone, measured_share(r), wue) for r in _rows(deps, which)]
