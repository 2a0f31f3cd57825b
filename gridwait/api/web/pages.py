"""The dashboard's pages: each one calls the same use cases as the API's routes and
renders their views, with its figures embedded as Plotly JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gridwait.api.auth import DepsDep
from gridwait.api.web import charts
from gridwait.api.web.render import HEADERS, render
from gridwait.api.web.session import SessionDep, WebRoute
from gridwait.app.deps import Deps
from gridwait.app.sessions import WebSession
from gridwait.app.views import ActualView, ForecastView, PlanView, QueueRow
from gridwait.errors import ProviderError

router = APIRouter(route_class=WebRoute, include_in_schema=False)
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FORECAST_HOURS = 24
PAST_HOURS = 12


def page(request: Request, name: str, session: WebSession, **context: object) -> HTMLResponse:
    return render(request, name, {"me": session.actor, "csrf": session.csrf, **context})


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/now", status_code=303)


@router.get("/now")
def now(request: Request, deps: DepsDep, session: SessionDep) -> HTMLResponse:
    """The forecast and the past hours' actuals, with the planned and running jobs."""
    from gridwait.app.forecasting import stand_in
    from gridwait.app.jobs import QueueFilter, queue
    from gridwait.app.planning import plan
    from gridwait.states import JobState

    actor = session.actor
    planned = plan(deps, actor)
    running = [r for r in queue(deps, actor, QueueFilter()) if r.state == JobState.RUNNING]
    hours = _hours(planned, running)
    forecast, actual, notes = _grid(deps, session, hours)
    profile = stand_in(deps, actor, hours)
    figure = charts.now_figure(forecast, actual, planned, running, profile)
    return page(
        request,
        "now.html",
        session,
        figure=figure,
        forecast=forecast,
        plan=planned,
        running=running,
        notes=[*notes, *planned.notes],
    )


def _hours(planned: PlanView, running: Sequence[QueueRow]) -> int:
    """Hours of grid to draw: to the end of the last planned or running window (the
    planner's forecast reaches as far, its fallback beyond), at least FORECAST_HOURS."""
    from gridwait.app.forecasting import MAX_HOURS

    ends = [r.end for r in planned.jobs if r.end]
    ends += [r.planned_end for r in running if r.planned_end]
    ahead = max(ends, default=planned.now) - planned.now
    return min(max(FORECAST_HOURS, math.ceil(ahead / timedelta(hours=1))), MAX_HOURS)


def _grid(
    deps: Deps, session: WebSession, hours: int
) -> tuple[ForecastView | None, ActualView | None, list[str]]:
    """The forecast and the actuals, each None with a note when the providers (fallbacks
    included) have nothing: the page still shows the plan."""
    from gridwait.app.forecasting import forecast, recent

    notes: list[str] = []
    coming: ForecastView | None = None
    past: ActualView | None = None
    try:
        horizon = math.ceil(deps.settings.grid.horizon_hours)  # the planner asks no further
        coming = forecast(deps, session.actor, hours=min(hours, horizon))
    except ProviderError as exc:
        notes.append(f"no forecast: {exc}")
    try:
        past = recent(deps, session.actor, hours=PAST_HOURS)
    except ProviderError as exc:
        notes.append(f"no actuals: {exc}")
    return coming, past, notes


@router.get("/queue")
def queue_page(
    request: Request,
    deps: DepsDep,
    session: SessionDep,
    include_all: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    from gridwait.app.jobs import QueueFilter, queue

    rows = queue(deps, session.actor, QueueFilter(include_final=include_all))
    return page(request, "queue.html", session, rows=rows, include_all=include_all)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: JobId, deps: DepsDep, session: SessionDep) -> HTMLResponse:
    from gridwait.app.jobs import samples, show

    job = show(deps, session.actor, job_id)
    figure = charts.samples_figure(samples(deps, session.actor, job_id))
    return page(request, "job.html", session, job=job, figure=figure)


@router.get("/history")
def history_page(request: Request, deps: DepsDep, session: SessionDep) -> HTMLResponse:
    from gridwait.app.history import RunFilter, history, report

    actor, every = session.actor, RunFilter()
    months = report(deps, actor, "month", every)
    return page(
        request,
        "history.html",
        session,
        runs=history(deps, actor, every),
        users=report(deps, actor, "user", every),
        projects=report(deps, actor, "project", every),
        months=months,
        figure=charts.months_figure(months),
    )


@router.get("/history/export.csv")
def export_csv(deps: DepsDep, session: SessionDep) -> Response:
    """Every run as CSV (the export use case, as `GET /api/v1/export`), as a download."""
    from gridwait.app.export import render as render_rows
    from gridwait.app.history import RunFilter, export_rows

    rows = export_rows(deps, session.actor, RunFilter())
    return Response(
        render_rows(rows, "csv"),
        media_type="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="gridwait-runs.csv"',
            "Cache-Control": HEADERS["Cache-Control"],  # the lab's runs, as on every page
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/budgets")
def budgets_page(request: Request, deps: DepsDep, session: SessionDep) -> HTMLResponse:
    from gridwait.app.budgets import usage

    rows = usage(deps, session.actor)
    figure = charts.budgets_figure(rows)
    return page(request, "budgets.html", session, rows=rows, figure=figure)


@router.get("/users")
def users_page(request: Request, deps: DepsDep, session: SessionDep) -> HTMLResponse:
    from gridwait.app.users import manage_users

    people = manage_users(deps, session.actor)  # admins only: the use case refuses others
    return page(request, "users.html", session, people=people, issued=None)
