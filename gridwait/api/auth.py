"""Who is asking: a user's bearer token becomes the acting user (`Actor`); a worker's
run token passes only for its own run. The checks themselves live in the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `gridwait user token NAME` (a worker: its run's token).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def deps_of(request: Request) -> Deps:
    # async: FastAPI runs a sync dependency in its thread pool, a hop per request for a
    # lookup that never blocks
    deps = request.app.state.deps
    assert isinstance(deps, Deps)
    return deps


DepsDep = Annotated[Deps, Depends(deps_of)]


async def current_actor(deps: DepsDep, credentials: Credentials) -> Actor:
    # async: the lookup is one indexed read, cheaper than the thread-pool hop a sync
    # dependency costs on every request (about a fifth of a submit's overhead, measured
    # in benchmarks/api.py); the rare last-used write may wait for the lock, so it goes
    # to the pool
    from gridwait.app.users import identify, mark_used

    found = identify(deps, credentials.credentials if credentials else None)
    if found.stale:
        await run_in_threadpool(mark_used, deps, found.token_id)
    return found.actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def run_worker(
    run_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="A run id.")],
    deps: DepsDep,
    credentials: Credentials,
) -> int:
    """The run id of a worker route, once its own token is shown."""
    from gridwait.app.runs import authenticate_run

    authenticate_run(deps, credentials.credentials if credentials else None, run_id)
    return run_id


RunDep = Annotated[int, Depends(run_worker)]
