"""A worker's routes, each accepted only with that run's own token: start, heartbeat
with samples, finish, suspended (the RunReporter contract over HTTP)."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from gridwait.api.auth import DepsDep, RunDep
from gridwait.workers.reporter import Outcome, Sample, Ticket

router = APIRouter(prefix="/api/v1/runs", tags=["workers"])


class Start(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(min_length=1, max_length=200, description="PID, Slurm job id...")
    host: str = Field(min_length=1, max_length=255)


class Beat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[Sample] = Field(max_length=10_000)


class Running(BaseModel):
    running: bool
    """False: the run is no longer the worker's (cancelled or settled): stop."""


@router.post("/{run_id}/start")
def start(run_id: RunDep, body: Start, deps: DepsDep) -> Ticket:
    """Take the claimed run: the ticket holds the whole resolved spec and the lease."""
    from gridwait.app.runs import start_run

    return start_run(deps, run_id, body.handle, body.host)


@router.post("/{run_id}/heartbeat")
def heartbeat(run_id: RunDep, body: Beat, deps: DepsDep) -> Running:
    """Record energy samples and renew the lease."""
    from gridwait.app.runs import heartbeat as beat

    return Running(running=beat(deps, run_id, body.samples))


@router.post("/{run_id}/finish", status_code=status.HTTP_204_NO_CONTENT)
def finish(run_id: RunDep, body: Outcome, deps: DepsDep) -> None:
    """How the run ended: its state, energy and what it trained."""
    from gridwait.app.runs import finish_run

    finish_run(deps, run_id, body)


@router.post("/{run_id}/suspended", status_code=status.HTTP_204_NO_CONTENT)
def suspended(run_id: RunDep, body: Outcome, deps: DepsDep) -> None:
    """The run checkpointed and stopped at the end of its segment."""
    from gridwait.app.runs import finish_run

    finish_run(deps, run_id, body)
