"""Schemathesis over the live API: every operation in /openapi.json fuzzed over HTTP with
valid and invalid requests, as an admin and as a member (the worker routes with a run's
own token), and every answer checked: no 5xx, a documented status and content type, a
body that matches its schema, and a problem whose `detail` is one line."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import ALICE, BOB, Lab, spec

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("GRIDWAIT_SCHEMA_EXAMPLES", "25"))
"""Cases per operation and generation mode: about 1,100 requests per user, 20-25 s here.
Raise it by hand for a deeper search; CI keeps the default."""

NETWORKED_PROVIDERS = {"electricitymaps", "uk", "watttime"}
"""Forecast providers that would call a real service: the test stays offline."""

LINE_BREAKS = ("\n", "\r")
ADMIN_ONLY = {
    "POST /api/v1/users",
    "DELETE /api/v1/users/{name}",
    "PUT /api/v1/budgets/{scope}/{name}",
    "DELETE /api/v1/budgets/{scope}/{name}",
}
Operation = APIOperation[Any, Any, Any, Any]


def offline(case: Case[Any]) -> Case[Any]:
    """A submitted or estimated spec that would reach the estimator names no hub model or
    hub dataset: those are fetched from huggingface.co, and the test stays offline."""
    body = case.body
    if isinstance(body, dict):
        model = body.get("model")
        if isinstance(model, str) and not model.startswith(("builtin:", "/", "~")):
            body["model"] = "builtin:minilm"
        data = body.get("dataset")
        if isinstance(data, dict):
            data.pop("hub", None)
    return case


def no_network(case: Case[Any]) -> bool:
    provider = (case.query or {}).get("provider")
    sent = provider if isinstance(provider, list) else [provider]  # a list repeats the key
    return not any(isinstance(p, str) and p in NETWORKED_PROVIDERS for p in sent)


def one_line_problem(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A problem's `detail` is the one line the CLI prints, its `status` the HTTP one,
    and no body ever carries a traceback."""
    if "Traceback" in response.text:
        raise AssertionError("a traceback in the body")
    if response.headers.get("content-type", [""])[0] != "application/problem+json":
        return None
    body = response.json()
    if not isinstance(body, dict):
        raise AssertionError("a problem that is not an object")
    if body.get("status") != response.status_code:
        raise AssertionError(f"problem status {body.get('status')} != {response.status_code}")
    if any(b in str(body.get("detail", "")) for b in LINE_BREAKS):
        raise AssertionError(f"problem detail is not one line: {body['detail']!r}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    one_line_problem,
]


@dataclass
class Tally:
    cases: int = 0
    failed: list[str] = field(default_factory=list)
    """One line per failing case: the operation, what failed, and a curl to reproduce."""
    statuses: dict[str, set[int]] = field(default_factory=dict)
    """operation -> the statuses it answered with"""

    def succeeded(self) -> set[str]:
        return {op for op, seen in self.statuses.items() if any(200 <= s < 300 for s in seen)}


@dataclass
class World:
    """Real objects for the path parameters, so that cases reach more than a 404."""

    lab: Lab
    token: str
    jobs: list[int]
    spare_token: int
    runs: dict[str, tuple[int, str]]
    """worker route (start, heartbeat...) -> its own claimed run and the run's token"""

    def path_values(self) -> dict[str, list[Any]]:
        return {
            "job_id": self.jobs,
            "name": ["root", "alice", "bob"],
            "token_id": [self.spare_token],
            "scope": ["user", "project"],
        }

    def token_for(self, operation: Operation) -> str:
        if operation.path.startswith("/api/v1/runs/"):
            return self.runs[operation.path.rsplit("/", 1)[1]][1]
        return self.token

    def anchored(self, operation: Operation) -> Iterator[dict[str, Any]]:
        """Path parameters that name real objects, each combination once."""
        names = [p.name for p in operation.path_parameters]
        if operation.path.startswith("/api/v1/runs/"):
            yield {"run_id": self.runs[operation.path.rsplit("/", 1)[1]][0]}
            return
        values = self.path_values()
        if names and all(n in values for n in names):
            for combo in itertools.product(*(values[n] for n in names)):
                yield dict(zip(names, combo, strict=True))


def build_world(lab: Lab, who: str) -> World:
    jobs = [lab.job_of(ALICE), lab.job_of(BOB)]
    spare = lab.as_(who, "POST", f"/api/v1/users/{who}/tokens", json={"name": "spare"})
    assert spare.status_code == 201, spare.text
    runs = {}
    for route in ("start", "heartbeat", "finish", "suspended"):
        run_id, token = lab.claimed_run(ALICE)
        if route != "start":  # the others report on a run the worker has taken
            taken = lab.call(
                "POST", f"/api/v1/runs/{run_id}/start", token, json={"handle": "1", "host": "h"}
            )
            assert taken.status_code == 200, taken.text
        runs[route] = (run_id, token)
    return World(lab, lab.tokens[who], jobs, spare.json()["id"], runs)


def strategy(operation: Operation, world: World, mode: GenerationMode) -> Any:
    """Fully generated cases, and (valid mode) cases on real objects and a valid spec."""
    options = [operation.as_strategy(generation_mode=mode)]
    if mode == GenerationMode.POSITIVE:
        options += [
            operation.as_strategy(generation_mode=mode, path_parameters=values)
            for values in world.anchored(operation)
        ]
        if operation.path in ("/api/v1/jobs", "/api/v1/estimate") and operation.method == "post":
            options.append(operation.as_strategy(generation_mode=mode, body=spec()))
        if operation.path == "/api/v1/users/{name}/notify" and operation.method == "put":
            # a URL apprise knows (generated text almost never is one); it is never called
            options += [
                operation.as_strategy(
                    generation_mode=mode, path_parameters=values, body={"url": "json://h/x"}
                )
                for values in world.anchored(operation)
            ]
    return st.one_of(options).map(offline).filter(no_network)


def fuzz(operation: Operation, world: World, mode: GenerationMode, tally: Tally) -> None:
    headers = {"Authorization": f"Bearer {world.token_for(operation)}"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases on every run, so CI is repeatable
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=strategy(operation, world, mode))
    def one(case: Case[Any]) -> None:
        response = case.call(base_url=world.lab.url, headers=headers, timeout=60)
        tally.cases += 1
        tally.statuses.setdefault(operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            what = "; ".join(f"{f.title}: {' '.join(f.message.split())}" for f in group.exceptions)
            tally.failed.append(
                f"{operation.label} [{mode.value}] {what}\n  -> {response.status_code}"
                f" {response.text[:300]}\n  {case.as_curl_command(headers=headers)}"
            )

    one()


def run_schema(lab: Lab, who: str) -> Tally:
    raw = requests.get(lab.url + "/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(raw)
    world = build_world(lab, who)
    tally = Tally()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot read an operation: {result.err()}"
        operation = result.ok()
        fuzz(operation, world, GenerationMode.POSITIVE, tally)
        # the Authorization header is the test's own: without other inputs, nothing is
        # left to make invalid
        if len(operation.path_parameters) or len(operation.query) or len(operation.body):
            fuzz(operation, world, GenerationMode.NEGATIVE, tally)
    return tally


@pytest.mark.parametrize("who", ["root", "alice"])
def test_every_answer_matches_the_schema(lab: Lab, who: str) -> None:
    began = time.monotonic()
    tally = run_schema(lab, who)
    print(
        f"\nschemathesis as {who}: {tally.cases} cases on {len(tally.statuses)} operations,"
        f" {len(tally.failed)} failed,"
        f" {time.monotonic() - began:.1f} s"
    )
    assert not tally.failed, "\n".join(tally.failed[:20])
    if who == "root":  # cases reached past the refusals: every operation succeeded once
        never = set(tally.statuses) - tally.succeeded()
        assert not never, f"never a 2xx (anchor their path parameters in World): {never}"
    else:
        assert not tally.succeeded() & ADMIN_ONLY  # a member never does an admin's work
        assert tally.succeeded() >= {"POST /api/v1/jobs", "GET /api/v1/jobs/{job_id}"}


def test_the_schema_documents_its_problems(lab: Lab) -> None:
    raw = requests.get(lab.url + "/openapi.json", timeout=30).json()
    submit = raw["paths"]["/api/v1/jobs"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422", "503"} <= set(submit)
    assert set(submit["422"]["content"]) == {"application/problem+json"}
