"""The API over a real server: what a researcher, an admin and a worker get back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import ALICE, Lab, spec
from tests.conftest import count_rows


def _problem(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and "Traceback" not in response.text
    assert "\n" not in body["detail"]
    return str(body["detail"])


def test_submit_show_queue_cancel(lab: Lab) -> None:
    created = lab.as_("alice", "POST", "/api/v1/jobs", json=spec(project="nlp"))
    assert created.status_code == 201, created.text
    job = created.json()["job"]
    assert job["owner"] == "alice" and job["state"] == "queued" and job["est_energy_kwh"] > 0
    assert created.json()["estimate"]["energy_kwh"] > 0
    shown = lab.as_("bob", "GET", f"/api/v1/jobs/{job['id']}").json()
    assert shown["id"] == job["id"] and shown["events"][0]["to_state"] == "queued"
    assert shown["submitted_at"].endswith("Z")
    listed = lab.as_("bob", "GET", "/api/v1/jobs?project=nlp").json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert lab.as_("bob", "GET", "/api/v1/jobs?user=bob").json() == []
    refused = lab.as_("bob", "POST", f"/api/v1/jobs/{job['id']}/cancel")
    assert "belongs to alice" in _problem(refused, 403)
    cancelled = lab.as_("alice", "POST", f"/api/v1/jobs/{job['id']}/cancel").json()
    assert cancelled["state"] == "cancelled" and cancelled["reason"] == "cancelled by owner"
    again = lab.as_("alice", "POST", f"/api/v1/jobs/{job['id']}/cancel")
    _problem(again, 409)
    assert "no job with id 999" in _problem(lab.as_("alice", "GET", "/api/v1/jobs/999"), 404)


def test_a_member_submits_only_as_themself(lab: Lab, env) -> None:  # type: ignore[no-untyped-def]
    before = count_rows(env)
    refused = lab.as_("alice", "POST", "/api/v1/jobs", json=spec(owner="bob"))
    assert "submit as bob" in _problem(refused, 403)
    assert count_rows(env) == before
    ok = lab.as_("root", "POST", "/api/v1/jobs", json=spec(owner="bob"))
    assert ok.status_code == 201 and ok.json()["job"]["owner"] == "bob"


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (spec(epochs=10**18), 422, "epochs: input should be less than or equal to 1000"),
        (spec(epochs=1e18), 422, "epochs: input should be a valid integer"),
        (spec(colour="red"), 422, "colour: unknown key"),
        (spec(deadline="yesterday"), 422, "deadline: 'yesterday' is neither"),
        (
            spec(deadline="2020-01-01T00:00Z"),
            422,
            "deadline: 2020-01-01T00:00:00+00:00 is in the past",
        ),
        (
            spec(dataset={"path": "/nowhere/data.csv"}),
            422,
            "dataset.path: /nowhere/data.csv is not visible on the scheduler host",
        ),
        (
            spec(dataset={"path": "data.csv"}),
            422,
            "dataset.path: data.csv is relative; send an absolute path",
        ),
        (
            spec(model="/no/such/model"),
            422,
            "model: /no/such/model is not visible on the scheduler host",
        ),
        (spec(gpus=64), 422, "gpus: the lab lends gridwait 1 GPU(s); this job asks for 64"),
        ([1, 2], 422, "(top level): input should be a valid dictionary"),
    ],
)
def test_bad_specs_are_one_line_and_write_nothing(  # type: ignore[no-untyped-def]
    lab: Lab, env, body, status: int, detail: str
) -> None:
    response = lab.as_("alice", "POST", "/api/v1/jobs", json=body)
    assert detail in _problem(response, status)
    assert count_rows(env) == 0


def test_bodies_over_the_limit_get_413(lab: Lab) -> None:
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"

    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(64):
            yield b" " * 32768
        yield b"}"

    streamed = lab.call(
        "POST",
        "/api/v1/jobs",
        lab.tokens["alice"],
        data=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "over 1048576 bytes" in _problem(streamed, 413)
    sized = lab.call(
        "POST",
        "/api/v1/jobs",
        lab.tokens["alice"],
        data=big,
        headers={"content-type": "application/json"},
    )
    assert "over 1048576 bytes" in _problem(sized, 413)


def test_tokens_are_stored_hashed_and_revocable(lab: Lab, env) -> None:  # type: ignore[no-untyped-def]
    made = lab.as_("alice", "POST", "/api/v1/users/alice/tokens", json={"name": "laptop"})
    assert made.status_code == 201
    secret = made.json()["token"]
    assert secret.startswith("gw_") and len(secret) > 40
    assert lab.call("GET", "/api/v1/me", secret).json() == {"name": "alice", "role": "member"}
    raw = env.read_bytes() + (env.parent / (env.name + "-wal")).read_bytes()
    assert secret.encode() not in raw and lab.tokens["alice"].encode() not in raw
    listed = lab.as_("alice", "GET", "/api/v1/users").json()
    assert [u["name"] for u in listed] == ["alice"]  # a member sees only themself
    laptop = next(t for t in listed[0]["tokens"] if t["name"] == "laptop")
    assert laptop["last_used_at"] is not None and "token" not in laptop
    gone = lab.as_("alice", "DELETE", f"/api/v1/users/alice/tokens/{laptop['id']}")
    assert gone.status_code == 204
    assert "unknown or revoked" in _problem(lab.call("GET", "/api/v1/me", secret), 401)
    assert lab.call("GET", "/api/v1/me", secret).headers["www-authenticate"] == "Bearer"


def test_admins_manage_users_and_budgets(lab: Lab) -> None:
    added = lab.as_("root", "POST", "/api/v1/users", json={"name": "carol"})
    assert added.status_code == 201 and added.json()["role"] == "member"
    _problem(lab.as_("root", "POST", "/api/v1/users", json={"name": "carol"}), 409)
    _problem(lab.as_("root", "POST", "/api/v1/users", json={"name": "x y"}), 400)
    token = lab.as_("root", "POST", "/api/v1/users/carol/tokens", json={}).json()["token"]
    assert lab.call("GET", "/api/v1/me", token).json()["name"] == "carol"
    assert lab.as_("root", "DELETE", "/api/v1/users/carol").status_code == 204
    _problem(lab.call("GET", "/api/v1/me", token), 401)  # removing a user revokes their tokens
    put = lab.as_("root", "PUT", "/api/v1/budgets/project/nlp", json={"monthly_g": 1500})
    assert put.json() == {
        "scope": "project",
        "name": "nlp",
        "monthly_g": 1500.0,
        "counts": "operational",
        "month": datetime.now(UTC).strftime("%Y-%m"),
        "used_g": 0.0,
        "committed_g": 0.0,
        "left_g": 1500.0,
    }
    _problem(lab.as_("root", "PUT", "/api/v1/budgets/project/nlp", json={"monthly_g": -1}), 422)
    _problem(lab.as_("root", "PUT", "/api/v1/budgets/team/nlp", json={"monthly_g": 1}), 422)
    total = {"monthly_g": 1500, "counts": "total"}
    assert lab.as_("root", "PUT", "/api/v1/budgets/project/nlp", json=total).json()["counts"] == (
        "total"
    )
    wrong = {"monthly_g": 1500, "counts": "all"}
    _problem(lab.as_("root", "PUT", "/api/v1/budgets/project/nlp", json=wrong), 422)
    assert [b["name"] for b in lab.as_("bob", "GET", "/api/v1/budgets").json()] == ["nlp"]
    assert lab.as_("root", "DELETE", "/api/v1/budgets/project/nlp").status_code == 204
    _problem(lab.as_("root", "DELETE", "/api/v1/budgets/project/nlp"), 404)


def test_review_routes_answer_as_the_cli_does(lab: Lab) -> None:
    csv = lab.as_("bob", "GET", "/api/v1/export?format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("timestamp,project_name,run_id")
    assert lab.as_("bob", "GET", "/api/v1/export?format=json").json() == []
    _problem(lab.as_("bob", "GET", "/api/v1/export?format=xml"), 422)
    _problem(lab.as_("bob", "GET", "/api/v1/report?by=colour"), 422)
    _problem(lab.as_("bob", "GET", "/api/v1/history?since=2026-01-01T00:00"), 422)  # no offset
    assert lab.as_("bob", "GET", "/api/v1/history?since=2026-01-01T00:00Z").json() == []
    forecast = lab.as_("bob", "GET", "/api/v1/forecast?hours=8&zone=GB").json()
    assert forecast["zone"] == "GB" and set(forecast["greenest"]) == {"1h", "2h", "4h", "8h"}
    _problem(lab.as_("bob", "GET", "/api/v1/forecast?zone=XX"), 404)
    plan = lab.as_("bob", "GET", "/api/v1/plan").json()
    assert plan["jobs"] == [] and plan["now"].endswith("Z")


def test_a_worker_reports_with_its_own_token(lab: Lab) -> None:
    run_id, token = lab.claimed_run(ALICE)
    ticket = lab.call(
        "POST", f"/api/v1/runs/{run_id}/start", token, json={"handle": "slurm-77", "host": "node1"}
    )
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["run_id"] == run_id and ticket.json()["spec"]["name"] == "reviews"
    now = datetime.now(UTC).isoformat()
    sample = {
        "at": now,
        "elapsed_s": 2.0,
        "gpu_j": None,
        "cpu_j": 20.0,
        "ram_j": 2.0,
        "gpu_method": None,
        "cpu_method": "estimated",
        "ram_method": "estimated",
    }
    beat = lab.call("POST", f"/api/v1/runs/{run_id}/heartbeat", token, json={"samples": [sample]})
    assert beat.json() == {"running": True}
    _problem(
        lab.call("POST", f"/api/v1/runs/{run_id}/start", token, json={"handle": "1", "host": "h"}),
        409,
    )  # started already
    done = lab.call(
        "POST",
        f"/api/v1/runs/{run_id}/finish",
        token,
        json={"state": "succeeded", "duration_s": 2.0, "final": sample},
    )
    assert done.status_code == 204, done.text
    shown = lab.as_("alice", "GET", f"/api/v1/jobs/{lab_job(lab, run_id)}").json()
    run = next(r for r in shown["runs"] if r["id"] == run_id)
    assert run["state"] == "succeeded" and run["handle"] == "slurm-77"
    # the run has ended: its token is worth nothing now
    late = lab.call("POST", f"/api/v1/runs/{run_id}/heartbeat", token, json={"samples": []})
    assert "has ended or lost its lease" in _problem(late, 401)


def test_a_run_token_expires_with_the_lease(lab: Lab) -> None:
    run_id, token = lab.claimed_run(ALICE)
    with lab.deps.store().write() as session:
        from gridwait.store.models import Run

        run = session.get(Run, run_id)
        assert run is not None
        run.lease_expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(run)
    _problem(lab.call("POST", f"/api/v1/runs/{run_id}/heartbeat", token, json={"samples": []}), 401)
    with sqlite3.connect(lab.deps.settings.db) as conn:  # the run itself is untouched
        state = conn.execute("SELECT state FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    assert state == "claimed"


def lab_job(lab: Lab, run_id: int) -> int:
    with sqlite3.connect(lab.deps.settings.db) as conn:
        return int(conn.execute("SELECT job_id FROM runs WHERE id = ?", (run_id,)).fetchone()[0])


def test_health_and_docs_need_no_token(lab: Lab) -> None:
    health = lab.call("GET", "/api/v1/health").json()
    assert health["status"] == "ok" and health["version"]
    assert lab.call("GET", "/docs").status_code == 200
    schema = lab.call("GET", "/openapi.json").json()
    assert "/api/v1/jobs" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_what_a_caller_typed_never_splits_a_detail(lab: Lab) -> None:
    refused = lab.as_("alice", "POST", "/api/v1/users", json={"name": "a\nb"})
    assert _problem(refused, 403).startswith("add user a\\nb: only admins")
    unknown = lab.as_("root", "POST", "/api/v1/users", json={"name": "x", "a\rb": 1})
    assert _problem(unknown, 422) == "a\\rb: unknown key"
    budget = lab.as_("root", "PUT", "/api/v1/budgets/user/a%0Ab", json={"monthly_g": 1})
    assert "holds control characters" in _problem(budget, 400)
