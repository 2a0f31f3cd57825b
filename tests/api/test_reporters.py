"""One suite over every RunReporter: in-process and over HTTP (a real server, the run's
own token). Then what only the HTTP one must do: keep samples through an outage."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gridwait.app.runs import LocalReporter
from gridwait.states import RunState
from gridwait.store.runs import end
from gridwait.workers.http_reporter import HttpReporter, ReporterError
from gridwait.workers.reporter import Outcome, RunNotOurs, RunReporter
from tests.api.conftest import ALICE, Lab
from tests.app.test_runs import sample  # Sample(elapsed s, cpu J), as the use-case tests make it

Make = Callable[[Lab, int, str], RunReporter]


def _local(lab: Lab, run_id: int, token: str) -> RunReporter:
    return LocalReporter(lab.deps, run_id)


def _http(lab: Lab, run_id: int, token: str) -> RunReporter:
    spool = Path(lab.deps.settings.db).parent / f"spool-{run_id}.jsonl"
    return HttpReporter(lab.url, run_id, token, spool, give_up_s=5, sleep=lambda s: None)


REPORTERS = pytest.mark.parametrize("make", [_local, _http], ids=["local", "http"])


def _stored(lab: Lab, run_id: int) -> tuple[str, float | None, list[float]]:
    with sqlite3.connect(lab.deps.settings.db) as conn:
        state, energy = conn.execute(
            "SELECT state, energy_it_j FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        cpu = [
            r[0]
            for r in conn.execute(
                "SELECT cpu_j FROM energy_samples WHERE run_id = ? ORDER BY id", (run_id,)
            )
        ]
    return state, energy, cpu


@REPORTERS
def test_a_run_from_start_to_finish(lab: Lab, make: Make) -> None:
    run_id, token = lab.claimed_run(ALICE)
    reporter = make(lab, run_id, token)
    ticket = reporter.start("4242", "node-1")
    assert ticket.run_id == run_id and ticket.spec.name == "reviews"
    with pytest.raises(RunNotOurs):
        make(lab, run_id, token).start("4243", "node-2")  # a run starts once
    assert reporter.heartbeat([sample(0, 0.0), sample(1, 10.0)])
    assert reporter.heartbeat([sample(1, 10.0), sample(2, 20.0)])  # a resent sample is kept once
    final = sample(3, 30.0)
    reporter.finish(Outcome(state="succeeded", duration_s=3.0, final=final))
    assert _stored(lab, run_id) == ("succeeded", pytest.approx(33.0), [0.0, 10.0, 20.0])


@REPORTERS
def test_a_settled_run_is_no_longer_the_workers(lab: Lab, make: Make) -> None:
    run_id, token = lab.claimed_run(ALICE)
    reporter = make(lab, run_id, token)
    reporter.start("1", "here")
    with lab.deps.store().write() as session:
        assert end(session, run_id, RunState.LOST, {"error": "lease lapsed"})
    assert reporter.heartbeat([sample(1, 10.0)]) is False
    with pytest.raises(RunNotOurs):
        reporter.finish(Outcome(state="succeeded", duration_s=1.0, final=sample(1, 10.0)))
    assert _stored(lab, run_id)[2] == []


@REPORTERS
def test_a_suspended_run(lab: Lab, make: Make) -> None:
    run_id, token = lab.claimed_run(ALICE)
    reporter = make(lab, run_id, token)
    reporter.start("1", "here")
    reporter.suspended(Outcome(state="suspended", duration_s=1.0, final=sample(1, 5.0)))
    assert _stored(lab, run_id)[0] == "suspended"


def test_samples_spool_while_the_service_is_away(lab: Lab, tmp_path: Path) -> None:
    run_id, token = lab.claimed_run(ALICE)
    spool = tmp_path / "spool.jsonl"
    reporter = HttpReporter(lab.url, run_id, token, spool, give_up_s=5, sleep=lambda s: None)
    reporter.start("1", "here")
    away = HttpReporter("http://127.0.0.1:9", run_id, token, spool, sleep=lambda s: None)
    assert away.heartbeat([sample(0, 0.0)]) and away.heartbeat([sample(1, 10.0)])
    assert len(spool.read_text().splitlines()) == 2  # on disk, not only in memory
    # a new worker process (same spool) reaches the service again: everything arrives
    back = HttpReporter(lab.url, run_id, token, spool, sleep=lambda s: None)
    assert back.heartbeat([sample(2, 20.0)])
    assert not spool.exists() and _stored(lab, run_id)[2] == [0.0, 10.0, 20.0]


def test_an_outcome_waits_for_the_service_then_gives_up(lab: Lab, tmp_path: Path) -> None:
    run_id, token = lab.claimed_run(ALICE)
    HttpReporter(lab.url, run_id, token, tmp_path / "s").start("1", "here")
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # record the backoff, and let a little time pass
        waits.append(seconds)
        time.sleep(0.2)

    away = HttpReporter(
        "http://127.0.0.1:9", run_id, token, tmp_path / "s", give_up_s=0.5, sleep=sleep
    )
    with pytest.raises(ReporterError, match="finish not delivered"):
        away.finish(Outcome(state="succeeded", duration_s=1.0, final=sample(1, 1.0)))
    assert len(waits) >= 2 and waits == sorted(waits)  # it retried, never faster
