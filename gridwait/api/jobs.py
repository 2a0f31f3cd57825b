"""Researchers' routes: submit, queue, show, cancel; the plan and the forecast."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from gridwait.api.auth import ActorDep, DepsDep
from gridwait.api.lanes import in_estimate_lane
from gridwait.app.views import (
    EstimateView,
    ForecastView,
    JobView,
    PlanView,
    QueueRow,
    Submitted,
)
from gridwait.config import ProviderName
from gridwait.spec import JobSpec

router = APIRouter(prefix="/api/v1", tags=["jobs"])
JobId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A job id.")]


@router.post("/jobs", status_code=status.HTTP_201_CREATED)
async def submit(request: Request, spec: JobSpec, deps: DepsDep, actor: ActorDep) -> Submitted:
    """Queue a job: a job spec as JSON (the TOML's fields and rules; paths absolute and
    visible on the scheduler host). 201 with the job and its estimate."""
    from gridwait.app.jobs import submit_remote

    return await in_estimate_lane(request, partial(submit_remote, deps, actor, spec))


@router.post("/estimate")
async def estimate(
    request: Request,
    spec: JobSpec,
    deps: DepsDep,
    actor: ActorDep,
    hardware: Annotated[
        str | None, Query(max_length=64, description="A row of the hardware table.")
    ] = None,
) -> EstimateView:
    """A job's tokens, energy, duration and uncertainty, without queueing it."""
    from gridwait.app.jobs import estimate_remote

    return await in_estimate_lane(request, partial(estimate_remote, deps, actor, spec, hardware))


@router.get("/jobs")
def queue(
    deps: DepsDep,
    actor: ActorDep,
    include_all: Annotated[bool, Query(alias="all", description="Include finished jobs.")] = False,
    user: Annotated[str | None, Query(description="Only this owner's jobs.")] = None,
    project: Annotated[str | None, Query(description="Only this project's jobs.")] = None,
) -> list[QueueRow]:
    """The lab's queue, oldest first (with `all`, finished jobs too)."""
    from gridwait.app.jobs import QueueFilter
    from gridwait.app.jobs import queue as list_queue

    return list_queue(deps, actor, QueueFilter(include_all, user, project))


@router.get("/jobs/{job_id}")
def show(job_id: JobId, deps: DepsDep, actor: ActorDep) -> JobView:
    """Everything about one job: estimate, plan, events, runs."""
    from gridwait.app.jobs import show as show_job

    return show_job(deps, actor, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(job_id: JobId, deps: DepsDep, actor: ActorDep) -> QueueRow:
    """Cancel a job: a member their own, an admin any."""
    from gridwait.app.jobs import cancel as cancel_job

    return cancel_job(deps, actor, job_id)


@router.get("/plan")
def plan(deps: DepsDep, actor: ActorDep) -> PlanView:
    """The queue planned against the current forecast; starts and writes nothing."""
    from gridwait.app.planning import plan as plan_queue

    return plan_queue(deps, actor)


@router.get("/forecast")
def forecast(
    deps: DepsDep,
    actor: ActorDep,
    provider: ProviderName | None = None,
    zone: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    hours: Annotated[int, Query(ge=1, le=168)] = 24,
) -> ForecastView:
    """The carbon-intensity forecast and the greenest start of 1, 2, 4 and 8 h jobs."""
    from gridwait.app.forecasting import forecast as coming

    return coming(deps, actor, provider, zone, hours)
