"""A worker's run through the use cases: start hands over the whole resolved spec, a
heartbeat records samples and renews the lease, finish records energy x PUE, and a run
settled by the reaper is no longer the worker's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridwait.app.deps import Deps
from gridwait.app.jobs import submit
from gridwait.app.runs import LocalReporter, finish_run, heartbeat, start_run
from gridwait.clock import ManualClock
from gridwait.errors import StateError
from gridwait.states import JobState, RunState, check_run_transition
from gridwait.store.jobs import get_job, transition
from gridwait.store.models import Run
from gridwait.store.runs import claim, end, samples_of
from gridwait.workers.reporter import Outcome, RunNotOurs, Sample
from tests.app.conftest import ADA, submission
from tests.conftest import T0


def claimed_run(deps: Deps, dataset: Path, **spec: object) -> int:
    job_id = submit(deps, ADA, submission(dataset, **spec)).job.id
    with deps.store().write() as session:
        job = get_job(session, job_id)
        job.planned_start = T0
        transition(session, job, JobState.PLANNED, T0)
    with deps.store().write() as session:
        run = claim(session, job_id, T0, T0, timedelta(minutes=1), "", None)
    assert run is not None and run.id is not None
    return run.id


def sample(at_s: float, cpu_j: float) -> Sample:
    return Sample(
        at=T0 + timedelta(seconds=at_s),
        elapsed_s=at_s,
        gpu_j=None,
        cpu_j=cpu_j,
        ram_j=cpu_j / 10,
        gpu_method=None,
        cpu_method="estimated",
        ram_method="estimated",
    )


def test_the_ticket_holds_the_whole_resolved_spec(deps: Deps, dataset: Path) -> None:
    run_id = claimed_run(deps, dataset, epochs=2, interruptible=True, seed=7)
    ticket = start_run(deps, run_id, "4242", "node-1")
    assert (ticket.run_id, ticket.attempt, ticket.segment, ticket.gpus) == (run_id, 1, 0, 0)
    assert ticket.spec.dataset.path == str(dataset)  # absolute, as resolved at submission
    assert Path(ticket.spec.dataset.path).is_absolute()
    assert ticket.spec.model == "builtin:minilm" and ticket.spec.owner == "ada"
    assert (ticket.spec.epochs, ticket.spec.interruptible, ticket.spec.seed) == (2, True, 7)
    assert ticket.work_dir.endswith("job-1") and ticket.threads and ticket.threads >= 1
    assert ticket.lease_expires_at == T0 + timedelta(seconds=60)
    with pytest.raises(RunNotOurs, match="not claimed"):
        start_run(deps, run_id, "4243", "node-2")  # a run starts once
    with deps.store().read() as session:
        row = session.get(Run, run_id)
    assert row is not None and (row.state, row.handle, row.host) == ("running", "4242", "node-1")


def test_heartbeats_record_samples_and_finish_applies_the_pue(deps: Deps, dataset: Path) -> None:
    deps.settings.energy.pue = 1.5
    run_id = claimed_run(deps, dataset)
    reporter = LocalReporter(deps, run_id)
    reporter.start("1", "here")
    assert isinstance(deps.clock, ManualClock)
    deps.clock.advance(30.0)
    assert reporter.heartbeat([sample(0, 0.0), sample(30, 300.0)])
    final = sample(60, 600.0)
    reporter.finish(Outcome(state="succeeded", duration_s=60.0, final=final, note="2 samples"))
    with deps.store().read() as session:
        row = session.get(Run, run_id)
        samples = samples_of(session, run_id)
    assert row is not None and row.state == RunState.SUCCEEDED and row.exit_code == 0
    assert row.heartbeat_at == T0 + timedelta(seconds=30)
    assert row.energy_it_j == pytest.approx(660.0)
    assert row.energy_facility_j == pytest.approx(990.0) and row.pue == 1.5
    assert [s.cpu_j for s in samples] == [0.0, 300.0]
    assert row.measure_note == "2 samples"


def test_a_reaped_run_is_no_longer_the_workers(deps: Deps, dataset: Path) -> None:
    run_id = claimed_run(deps, dataset)
    start_run(deps, run_id, "1", "here")
    with deps.store().write() as session:
        assert end(session, run_id, RunState.LOST, {"error": "lease lapsed"})
    assert not heartbeat(deps, run_id, [sample(5, 50.0)])
    outcome = Outcome(state="succeeded", duration_s=5.0, final=sample(5, 50.0))
    with pytest.raises(RunNotOurs, match="settled while its worker ran"):
        finish_run(deps, run_id, outcome)
    with deps.store().read() as session:
        assert samples_of(session, run_id) == []


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("claimed", "running", True),
        ("claimed", "lost", True),
        ("running", "suspended", True),
        ("running", "lost", True),
        ("claimed", "succeeded", False),  # a worker that never started reports nothing
        ("succeeded", "lost", False),
        ("lost", "running", False),
    ],
)
def test_run_state_machine(source: str, target: str, allowed: bool) -> None:
    if allowed:
        assert check_run_transition(1, source, target) == (source, target)
    else:
        with pytest.raises(StateError, match="run 1"):
            check_run_transition(1, source, target)
