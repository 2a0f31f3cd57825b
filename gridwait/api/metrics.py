"""GET /metrics: the lab's aggregates as Prometheus text (a scraper sends a bearer token,
as any client does: see the README)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily

from gridwait.api.auth import ActorDep, DepsDep
from gridwait.app.views import LabMetrics

router = APIRouter(tags=["service"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(deps: DepsDep, actor: ActorDep) -> Response:
    """Jobs by state, current intensity, planned vs run-now gCO2e, kWh and gCO2e per
    finished run, budget use %, provider fallbacks."""
    from gridwait.app.metrics import lab_metrics

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(lab_metrics(deps, actor)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class _Snapshot:
    """One scrape's numbers as metric families (a collector read once, then dropped)."""

    def __init__(self, m: LabMetrics) -> None:
        self.m = m

    def collect(self) -> list[Metric]:
        m = self.m
        jobs = GaugeMetricFamily("gridwait_jobs", "Jobs by state.", labels=["state"])
        for state, count in m.jobs_by_state.items():
            jobs.add_metric([state], count)
        families: list[Metric] = [jobs]
        if m.intensity_g_per_kwh is not None:
            now = GaugeMetricFamily(
                "gridwait_intensity_g_per_kwh",
                "Forecast carbon intensity now, gCO2e/kWh (newest stored forecast).",
                labels=["zone", "provider"],
            )
            now.add_metric([m.zone, m.intensity_provider or ""], m.intensity_g_per_kwh)
            families.append(now)
        families += [
            GaugeMetricFamily(
                "gridwait_planned_grams",
                "Forecast gCO2e of unfinished jobs as planned.",
                value=m.planned_g,
            ),
            GaugeMetricFamily(
                "gridwait_run_now_grams",
                "gCO2e of the same jobs had each started at once.",
                value=m.run_now_g,
            ),
            GaugeMetricFamily(
                "gridwait_plans_on_fallback",
                "Unfinished jobs planned on a fallback signal.",
                value=m.plans_on_fallback,
            ),
            GaugeMetricFamily(
                "gridwait_runs_on_fallback",
                "Finished runs accounted on a fallback intensity.",
                value=m.runs_on_fallback,
            ),
        ]
        for name, doc, total in (
            ("gridwait_run_energy_kwh", "Facility kWh per finished run.", m.finished_energy_kwh),
            ("gridwait_run_emissions_grams", "gCO2e per finished run.", m.finished_emissions_g),
            ("gridwait_run_saving_grams", "gCO2e saved per finished run.", m.finished_saving_g),
        ):
            families.append(
                SummaryMetricFamily(name, doc, count_value=m.finished_runs, sum_value=total)
            )
        budget = GaugeMetricFamily(
            "gridwait_budget_used_percent",
            "This month's actual gCO2e as a share of each budget, %.",
            labels=["scope", "name"],
        )
        for key, pct in m.budget_used_pct.items():
            scope, _, name = key.partition("/")
            budget.add_metric([scope, name], pct)
        families.append(budget)
        return families
