"""The dashboard's figures as Plotly JSON, built here from the use cases' views: the page
embeds them as data and plotly.js (served from the plotly package) draws them. Only
configuration here, no drawing code.

Times go to plotly.js as naive UTC text: it reads no offsets, and every axis says UTC.
plotly.js reads a few HTML tags in names and hover text (<br>, <a href>...): what a
user typed (a job's or a project's name) and a provider's message are escaped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from gridwait.app.views import (
    ActualView,
    BudgetView,
    ForecastPoint,
    ForecastView,
    PlanRow,
    PlanView,
    QueueRow,
    ReportRow,
    SampleView,
)
from gridwait.units import format_mass

Figure = dict[str, object]
GREEN, GREY, BLUE, ORANGE, RED = "#2e7d32", "#9e9e9e", "#1565c0", "#ef6c00", "#c62828"


def t(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Bar:
    """One window of a job on the lane chart."""

    job_id: int
    start: datetime
    end: datetime
    hover: str


def now_figure(
    forecast: ForecastView | None,
    actual: ActualView | None,
    plan: PlanView,
    running: Sequence[QueueRow],
    profile: ForecastView | None = None,
) -> Figure:
    """The coming hours' forecast (its fallback part dashed and named so), the past hours'
    actuals, and every planned and running job as a bar over its window on a slot lane.
    `profile`: the built-in profile the planner plans on where the forecast has no value
    (None where no profile stands for the zone: the planner takes the forecast's mean)."""
    traces: list[dict[str, object]] = []
    if actual is not None:
        traces.append(_line(actual.points, "actual (past hours)", BLUE, None, actual.resolution_s))
    planned = [b for row in plan.jobs for b in _plan_bars(row)]
    active = [_running_bar(r) for r in running if r.planned_start and r.planned_end]
    if forecast is not None:
        until = max((b.end for b in [*planned, *active]), default=plan.now)
        traces += _forecast_traces(forecast, profile, until)
    lanes = _lanes([*active, *planned])
    traces.append(_bars(planned, lanes[len(active) :], "planned jobs", GREEN))
    traces.append(_bars(active, lanes[: len(active)], "running jobs", ORANGE))
    count = max(lanes, default=0) + 1
    return {
        "data": traces,
        "layout": {
            "xaxis": {"type": "date", "title": {"text": "UTC"}, "anchor": "y2"},
            "yaxis": {"domain": [0.45, 1], "title": {"text": "gCO2eq/kWh"}, "rangemode": "tozero"},
            "yaxis2": {
                "domain": [0, 0.38],
                "title": {"text": "slot"},
                "tickvals": list(range(count)),
                "ticktext": [f"slot {i + 1}" for i in range(count)],
                "autorange": "reversed",
            },
            "shapes": [_now_line(plan.now)],
            "barmode": "overlay",
            "legend": {"orientation": "h"},
            "margin": {"t": 30},
        },
    }


def _line(
    points: Sequence[ForecastPoint],
    name: str,
    color: str,
    dash: str | None,
    step_s: float,
    end: datetime | None = None,
) -> dict[str, object]:
    """A step line; its last value is repeated at the end of its period (`end`, else
    `step_s` after its start), or the step of the last period would not be drawn."""
    xs, ys = [t(p.start) for p in points], [p.value for p in points]
    if points:
        xs.append(t(end or points[-1].start + timedelta(seconds=step_s)))
        ys.append(points[-1].value)
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": xs,
        "y": ys,
        "line": {"shape": "hv", "color": color, "dash": dash or "solid"},
    }


def _forecast_traces(
    forecast: ForecastView, profile: ForecastView | None, until: datetime
) -> list[dict[str, object]]:
    """The forecast; a whole series standing in for the provider's is dashed and named a
    fallback, and what the planner plans on where the forecast has no value gets a dotted
    trace of its own (see `_stand_in`)."""
    step = forecast.resolution_s
    if forecast.fallback:
        name = f"forecast (fallback: {escape(forecast.fallback)})"
        traces = [_line(forecast.points, name, GREY, "dash", step)]
    else:
        traces = [_line(forecast.points, f"forecast ({forecast.provider})", GREEN, None, step)]
    if any(p.corrected is not None for p in forecast.points):
        traces += _corrected(forecast)
    stand_in = _stand_in(forecast, profile, until)
    if stand_in is not None:
        points, name, end = stand_in
        traces.append(_line(points, name, GREY, "dot", step, end))
    return traces


def _corrected(forecast: ForecastView) -> list[dict[str, object]]:
    """The corrected forecast the planner plans on ([grid] forecast_correction): its median,
    and its band shaded between its edges (the planner's quantile lies inside it)."""
    step = forecast.resolution_s

    def part(name: str) -> list[ForecastPoint]:
        return [ForecastPoint(start=p.start, value=getattr(p, name)) for p in forecast.points]

    share = f"{forecast.band:.0%} band" if forecast.band else "band"
    if forecast.risk_quantile is not None:
        share += f" (planned at its {forecast.risk_quantile:.0%} quantile)"
    edge = {"shape": "hv", "color": GREEN, "width": 0}
    low = {**_line(part("lower"), "band low", GREEN, None, step), "line": edge}
    high = {**_line(part("upper"), f"corrected forecast: {share}", GREEN, None, step), "line": edge}
    return [
        _line(part("corrected"), "corrected forecast (median)", GREEN, "dashdot", step),
        {**low, "showlegend": False, "hoverinfo": "skip"},
        {**high, "fill": "tonexty", "fillcolor": "rgba(46, 125, 50, 0.15)"},
    ]


def _stand_in(
    forecast: ForecastView, profile: ForecastView | None, until: datetime
) -> tuple[list[ForecastPoint], str, datetime] | None:
    """The planner's stand-in where the forecast has no value: in its gaps, and after its
    end up to `until` (the last job's end). At the built-in profile's values where there
    is one, else at the forecast's mean, as scheduler/planner/signal.py plans; None where
    the forecast has no gap and reaches `until`."""
    known = [p.value for p in forecast.points if p.value is not None]
    if not known:
        return None
    mean = sum(known) / len(known)

    def at(when: datetime) -> float:
        value = None if profile is None else _value_at(profile, when)
        return mean if value is None else value

    points = [
        ForecastPoint(start=p.start, value=at(p.start) if p.value is None else None)
        for p in forecast.points
    ]
    end = forecast.points[-1].start + timedelta(seconds=forecast.resolution_s)
    if until > end:
        points.append(ForecastPoint(start=end, value=at(end)))
        later = [] if profile is None else [p.start for p in profile.points if end < p.start]
        points += [ForecastPoint(start=s, value=at(s)) for s in later if s < until]
    if all(p.value is None for p in points):
        return None
    name = "fallback: gap filled with the mean" if profile is None else "fallback: built-in profile"
    return points, name, max(until, end)


def _value_at(series: ForecastView, when: datetime) -> float | None:
    """The series' value in the period holding `when`; None outside it or in a gap."""
    step = timedelta(seconds=series.resolution_s)
    held = [p.value for p in series.points if p.start <= when < p.start + step]
    return held[0] if held else None


def _hover(job_id: int, name: str, owner: str, project: str, g: Sequence[float | None]) -> str:
    forecast_g, run_now_g, saving_g = g
    pct = ""
    if saving_g is not None and run_now_g:
        pct = f" ({100 * saving_g / run_now_g:.0f}%)"
    return (
        f"job {job_id} {escape(name)} ({escape(owner)}, {escape(project)})"
        f"<br>forecast {format_mass(forecast_g)}"
        f"<br>run now {format_mass(run_now_g)}<br>saving {format_mass(saving_g)}{pct}"
    )


def _plan_bars(row: PlanRow) -> list[Bar]:
    if row.start is None:
        return []  # held: no window
    windows = row.segments or ([(row.start, row.end)] if row.end else [])
    grams = (row.forecast_g, row.run_now_g, row.saving_g)
    text = _hover(row.id, row.name, row.owner, row.project, grams)
    if row.status == "late":
        text += "<br>late: cannot meet its deadline"
    return [Bar(row.id, a, b, text) for a, b in windows]


def _running_bar(row: QueueRow) -> Bar:
    assert row.planned_start is not None and row.planned_end is not None
    saving = None
    if row.plan_run_now_g is not None and row.plan_forecast_g is not None:
        saving = row.plan_run_now_g - row.plan_forecast_g
    grams = (row.plan_forecast_g, row.plan_run_now_g, saving)
    text = _hover(row.id, row.name, row.owner, row.project, grams) + "<br>running"
    return Bar(row.id, row.planned_start, row.planned_end, text)


def _lanes(bars: Sequence[Bar]) -> list[int]:
    """A lane for each bar, first fit by start: no two bars of a lane overlap, so a lane
    reads as one GPU or CPU slot."""
    ends: list[datetime] = []
    lanes = [0] * len(bars)
    for i in sorted(range(len(bars)), key=lambda i: bars[i].start):
        bar = bars[i]
        free = next((n for n, end in enumerate(ends) if end <= bar.start), None)
        if free is None:
            ends.append(bar.end)
            free = len(ends) - 1
        ends[free] = bar.end
        lanes[i] = free
    return lanes


def _bars(bars: Sequence[Bar], lanes: Sequence[int], name: str, color: str) -> dict[str, object]:
    return {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "yaxis": "y2",
        "base": [t(b.start) for b in bars],
        "x": [(b.end - b.start).total_seconds() * 1000 for b in bars],  # ms on a date axis
        "y": list(lanes),
        "customdata": [b.job_id for b in bars],
        "hovertext": [b.hover for b in bars],
        "hoverinfo": "text",
        "marker": {"color": color, "opacity": 0.75},
    }


def _now_line(now: datetime) -> dict[str, object]:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": t(now),
        "x1": t(now),
        "y0": 0,
        "y1": 1,
        "line": {"color": RED, "dash": "dot"},
    }


def samples_figure(samples: Sequence[SampleView]) -> Figure:
    """Cumulative energy (kWh) per component over each run's time."""
    traces = []
    for run_id in sorted({s.run_id for s in samples}):
        mine = [s for s in samples if s.run_id == run_id]
        for part in ("gpu_j", "cpu_j", "ram_j"):
            ys = [None if getattr(s, part) is None else getattr(s, part) / 3.6e6 for s in mine]
            if any(y is not None for y in ys):
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": f"run {run_id} {part[:-2].upper()}",
                        "x": [t(s.at) for s in mine],
                        "y": ys,
                    }
                )
    return {
        "data": traces,
        "layout": {
            "xaxis": {"type": "date", "title": {"text": "UTC"}},
            "yaxis": {"title": {"text": "kWh since the run started"}},
            "margin": {"t": 30},
        },
    }


def months_figure(months: Sequence[ReportRow]) -> Figure:
    """Emissions and avoided emissions (saving) per month, in g."""
    labels = [m.month or "" for m in months]
    return {
        "data": [
            _column("emissions (g)", labels, [m.emissions_g for m in months], GREY),
            _column("avoided (g)", labels, [m.saving_g for m in months], GREEN),
        ],
        "layout": {
            "barmode": "group",
            "xaxis": {"type": "category", "title": {"text": "month"}},
            "yaxis": {"title": {"text": "gCO2eq"}},
            "margin": {"t": 30},
        },
    }


def budgets_figure(budgets: Sequence[BudgetView]) -> Figure:
    """Each budget's month as one stacked bar: used, committed, left (in g)."""
    names = [f"{b.scope} {escape(b.name)}" for b in budgets]
    parts = (
        ("used (g)", [b.used_g for b in budgets], RED),
        ("committed (g)", [b.committed_g for b in budgets], ORANGE),
        ("left (g)", [max(b.left_g, 0.0) for b in budgets], GREEN),
    )
    return {
        "data": [{**_column(n, xs, names, c), "orientation": "h"} for n, xs, c in parts],
        "layout": {
            "barmode": "stack",
            "xaxis": {"title": {"text": "gCO2eq this month"}},
            "yaxis": {"automargin": True},
            "margin": {"t": 30},
        },
    }


def _column(name: str, x: Sequence[object], y: Sequence[object], color: str) -> dict[str, object]:
    return {"type": "bar", "name": name, "x": list(x), "y": list(y), "marker": {"color": color}}
