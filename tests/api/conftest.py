"""A real uvicorn server on 127.0.0.1 (a free port) over a real SQLite file, with a lab:
admin `root`, members `alice` and `bob`, a token each, and two claimed runs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from gridwait.api.server import ApiServer
from gridwait.app.actor import Actor, Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import submit_remote
from gridwait.app.runs import issue_run_token
from gridwait.app.users import add_user, issue_token
from gridwait.clock import SystemClock
from gridwait.config import load_settings
from gridwait.spec import JobSpec
from tests.conftest import DEMO

ALICE = Actor("alice", Role.MEMBER)
BOB = Actor("bob", Role.MEMBER)
ROOT = Actor("root", Role.ADMIN)


def spec(**fields: Any) -> dict[str, Any]:
    """A small job spec as the JSON a client sends."""
    return {
        "name": "reviews",
        "model": "builtin:minilm",
        "dataset": {"path": str(DEMO), "limit": 40},
        "max_length": 32,
        "deadline": "36h",
        **fields,
    }


@dataclass
class Lab:
    url: str
    deps: Deps
    tokens: dict[str, str] = field(default_factory=dict)
    runs: dict[str, tuple[int, str]] = field(default_factory=dict)
    """name -> (run id, its token)"""

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kw)

    def as_(self, who: str, method: str, path: str, **kw: Any) -> requests.Response:
        return self.call(method, path, self.tokens[who], **kw)

    def job_of(self, actor: Actor) -> int:
        """A queued job of `actor`'s, submitted through the use case."""
        done = submit_remote(self.deps, actor, JobSpec.model_validate(spec()))
        return done.job.id

    def claimed_run(self, owner: Actor) -> tuple[int, str]:
        """A job of `owner`'s claimed for a run (as the service claims it), and the run's
        own token."""
        from gridwait.states import JobState
        from gridwait.store.jobs import get_job, transition
        from gridwait.store.runs import claim

        job_id = self.job_of(owner)
        now = self.deps.clock.now()
        with self.deps.store().write() as session:
            job = get_job(session, job_id)
            job.planned_start = now
            transition(session, job, JobState.PLANNED, now, "planned by the test")
            session.flush()
            run = claim(session, job_id, now, now, timedelta(hours=1), "", None)
            assert run is not None and run.id is not None
            run_id = run.id
        return run_id, issue_run_token(self.deps, run_id)


@pytest.fixture
def lab(env: Path) -> Iterator[Lab]:
    deps = Deps(load_settings(), SystemClock())
    host = host_admin()
    for actor in (ROOT, ALICE, BOB):
        add_user(deps, host, actor.name, actor.role)
    server = ApiServer(deps, "127.0.0.1", 0)
    server.start()
    world = Lab(server.url, deps)
    for actor in (ROOT, ALICE, BOB):
        world.tokens[actor.name] = issue_token(deps, host, actor.name, "test").token
    try:
        yield world
    finally:
        server.stop()
        deps.close()
