"""Every route the app exposes x every kind of caller -> the status it must get.

The table is checked against the app's own routes: a route added without a row fails."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute

from gridwait.api.app import create_app
from gridwait.app.budgets import set_budget
from gridwait.app.users import add_user, issue_token
from tests.api.conftest import ALICE, ROOT, Lab, spec

CALLERS = ("none", "bad", "alice", "bob", "root", "other_run")
"""No token; a made-up token; member A; member B; an admin; the token of another run."""

_names = itertools.count()


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def _sample() -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "at": now,
        "elapsed_s": 1.0,
        "gpu_j": None,
        "cpu_j": 5.0,
        "ram_j": 1.0,
        "gpu_method": None,
        "cpu_method": "estimated",
        "ram_method": "estimated",
    }


def _outcome() -> dict[str, Any]:
    return {"state": "succeeded", "duration_s": 1.0, "final": _sample()}


Request = tuple[str, dict[str, Any] | None]
Make = Callable[[Lab], Request]


def _budget(lab: Lab) -> Request:
    name = _fresh("p")
    set_budget(lab.deps, ROOT, "project", name, 100.0)
    return f"/api/v1/budgets/project/{name}", None


def _user(lab: Lab) -> Request:
    from gridwait.app.actor import Role

    name = _fresh("u")
    add_user(lab.deps, ROOT, name, Role.MEMBER)
    return f"/api/v1/users/{name}", None


def _alice_token(lab: Lab) -> Request:
    token = issue_token(lab.deps, ROOT, "alice", _fresh("t"))
    return f"/api/v1/users/alice/tokens/{token.id}", None


def _run(step: str, body: Callable[[], dict[str, Any]]) -> Make:
    return lambda lab: (f"/api/v1/runs/{lab.runs['target'][0]}/{step}", body())


U = (401, 401)  # no token, bad token
EVERYONE = (*U, 200, 200, 200, 401)
ADMIN_ONLY = (*U, 403, 403)
WORKER = (*U, 401, 401, 401, 403)  # a user's token is no run token; another run's is refused

TABLE: dict[tuple[str, str], tuple[Make, tuple[int, ...]]] = {
    ("GET", "/api/v1/health"): (lambda lab: ("/api/v1/health", None), (200,) * 6),
    ("GET", "/api/v1/me"): (lambda lab: ("/api/v1/me", None), EVERYONE),
    ("POST", "/api/v1/jobs"): (lambda lab: ("/api/v1/jobs", spec()), (*U, 201, 201, 201, 401)),
    ("GET", "/api/v1/jobs"): (lambda lab: ("/api/v1/jobs", None), EVERYONE),
    ("POST", "/api/v1/estimate"): (lambda lab: ("/api/v1/estimate", spec()), EVERYONE),
    ("GET", "/api/v1/jobs/{job_id}"): (
        lambda lab: (f"/api/v1/jobs/{lab.job_of(ALICE)}", None),
        EVERYONE,
    ),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): (
        lambda lab: (f"/api/v1/jobs/{lab.job_of(ALICE)}/cancel", None),
        (*U, 200, 403, 200, 401),
    ),
    ("GET", "/api/v1/plan"): (lambda lab: ("/api/v1/plan", None), EVERYONE),
    ("GET", "/api/v1/forecast"): (lambda lab: ("/api/v1/forecast?hours=6", None), EVERYONE),
    ("GET", "/api/v1/history"): (lambda lab: ("/api/v1/history", None), EVERYONE),
    ("GET", "/api/v1/report"): (lambda lab: ("/api/v1/report?by=project", None), EVERYONE),
    ("GET", "/api/v1/export"): (lambda lab: ("/api/v1/export?format=json", None), EVERYONE),
    ("GET", "/api/v1/budgets"): (lambda lab: ("/api/v1/budgets", None), EVERYONE),
    ("PUT", "/api/v1/budgets/{scope}/{name}"): (
        lambda lab: ("/api/v1/budgets/user/alice", {"monthly_g": 500.0}),
        (*ADMIN_ONLY, 200, 401),
    ),
    ("DELETE", "/api/v1/budgets/{scope}/{name}"): (_budget, (*ADMIN_ONLY, 204, 401)),
    ("GET", "/api/v1/users"): (lambda lab: ("/api/v1/users", None), EVERYONE),
    ("POST", "/api/v1/users"): (
        lambda lab: ("/api/v1/users", {"name": _fresh("n"), "role": "member"}),
        (*ADMIN_ONLY, 201, 401),
    ),
    ("DELETE", "/api/v1/users/{name}"): (_user, (*ADMIN_ONLY, 204, 401)),
    ("POST", "/api/v1/users/{name}/tokens"): (
        lambda lab: ("/api/v1/users/alice/tokens", {"name": _fresh("t")}),
        (*U, 201, 403, 201, 401),
    ),
    ("DELETE", "/api/v1/users/{name}/tokens/{token_id}"): (
        _alice_token,
        (*U, 204, 403, 204, 401),
    ),
    ("PUT", "/api/v1/users/{name}/notify"): (
        lambda lab: ("/api/v1/users/alice/notify", {"url": "json://127.0.0.1:9/alice"}),
        (*U, 200, 403, 200, 401),
    ),
    ("DELETE", "/api/v1/users/{name}/notify"): (
        lambda lab: ("/api/v1/users/alice/notify", None),
        (*U, 204, 403, 204, 401),
    ),
    ("GET", "/metrics"): (lambda lab: ("/metrics", None), EVERYONE),
    ("POST", "/api/v1/runs/{run_id}/start"): (
        _run("start", lambda: {"handle": "4242", "host": "node1"}),
        WORKER,
    ),
    ("POST", "/api/v1/runs/{run_id}/heartbeat"): (
        _run("heartbeat", lambda: {"samples": [_sample()]}),
        WORKER,
    ),
    ("POST", "/api/v1/runs/{run_id}/finish"): (_run("finish", _outcome), WORKER),
    ("POST", "/api/v1/runs/{run_id}/suspended"): (_run("suspended", _outcome), WORKER),
}


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.16x nests routers
        if inner is not None:
            yield from _walk(inner.routes)


def test_the_table_covers_every_route(lab: Lab) -> None:
    app = create_app(lab.deps)
    # a converter ({name:path}) is how the route matches, not part of its name
    walked = {(m, re.sub(r":\w+}", "}", r.path)) for r in _walk(app.routes) for m in r.methods}
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    exposed = {(m, p) for m, p in walked | documented if p.startswith(("/api", "/metrics"))}
    assert exposed == set(TABLE)


@pytest.mark.slow
def test_every_route_for_every_caller(lab: Lab) -> None:
    lab.runs["target"] = lab.claimed_run(ALICE)
    lab.runs["other"] = lab.claimed_run(ALICE)
    tokens = {
        "none": None,
        "bad": "gw_" + "x" * 43,
        **lab.tokens,
        "other_run": lab.runs["other"][1],
    }
    wrong = []
    tried = 0
    for (method, _), (make, expected) in TABLE.items():
        for caller, status in zip(CALLERS, expected, strict=True):
            path, body = make(lab)
            response = lab.call(method, path, tokens[caller], json=body)
            tried += 1
            if response.status_code != status:
                wrong.append(
                    f"{method} {path} as {caller}: {response.status_code}, not {status}"
                    f" ({response.text[:120]})"
                )
            elif status >= 400:
                problem = response.json()
                assert response.headers["content-type"] == "application/problem+json"
                assert problem["status"] == status and problem["detail"]
    assert not wrong, "\n".join(wrong)
    assert tried == len(TABLE) * len(CALLERS)
