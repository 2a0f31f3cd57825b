"""The researchers' use cases, with the acting user's role and ownership checked here
(not only at an edge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridwait.app.deps import Deps
from gridwait.app.jobs import QueueFilter, cancel, queue, show, submit
from gridwait.errors import NotFoundError, PermissionDenied, StateError
from tests.app.conftest import ADA, ADMIN, BOB, submission
from tests.conftest import T0, count_rows


def test_a_member_submits_as_themself_by_default(deps: Deps, dataset: Path) -> None:
    done = submit(deps, ADA, submission(dataset))
    assert done.job.owner == "ada" and done.job.state == "queued"
    assert done.estimate.tokens_padded >= done.estimate.tokens_real > 0
    assert done.estimate.energy_kwh > 0 and done.estimate.method


def test_a_member_cannot_submit_for_someone_else(deps: Deps, dataset: Path) -> None:
    with pytest.raises(PermissionDenied, match="belongs to bob, not to ada"):
        submit(deps, ADA, submission(dataset, owner="bob"))
    assert count_rows(deps.settings.db) == 0  # nothing written


def test_an_admin_submits_for_anyone(deps: Deps, dataset: Path) -> None:
    assert submit(deps, ADMIN, submission(dataset, owner="bob")).job.owner == "bob"


def test_members_cancel_only_their_own_jobs(deps: Deps, dataset: Path) -> None:
    mine = submit(deps, ADA, submission(dataset)).job.id
    theirs = submit(deps, BOB, submission(dataset)).job.id
    with pytest.raises(PermissionDenied, match=f"cancel job {theirs}"):
        cancel(deps, ADA, theirs)
    assert cancel(deps, ADA, mine).state == "cancelled"
    assert cancel(deps, ADMIN, theirs).state == "cancelled"
    with pytest.raises(StateError, match="already cancelled"):
        cancel(deps, ADMIN, theirs)
    reasons = [e.reason for e in show(deps, BOB, theirs).events]
    assert reasons == ["submitted", "cancelled by admin root"]


def test_show_is_a_view_with_events_estimate_and_runs(deps: Deps, dataset: Path) -> None:
    job_id = submit(deps, ADA, submission(dataset, project="nlp")).job.id
    view = show(deps, BOB, job_id)  # the lab's queue is everyone's to read
    assert (view.id, view.owner, view.project, view.state) == (job_id, "ada", "nlp", "queued")
    assert view.submitted_at == T0 and view.deadline > T0
    assert view.estimate is not None and view.estimate.energy_kwh and view.estimate.method
    assert view.plan is None and view.runs == []
    assert [(e.from_state, e.to_state) for e in view.events] == [(None, "queued")]
    with pytest.raises(NotFoundError, match="no job with id 99"):
        show(deps, ADA, 99)


def test_queue_filters(deps: Deps, dataset: Path) -> None:
    a = submit(deps, ADA, submission(dataset, project="nlp")).job.id
    b = submit(deps, BOB, submission(dataset, project="vision")).job.id
    cancel(deps, BOB, b)
    assert [r.id for r in queue(deps, ADA, QueueFilter())] == [a]
    assert [r.id for r in queue(deps, ADA, QueueFilter(include_final=True))] == [a, b]
    assert [r.id for r in queue(deps, ADA, QueueFilter(True, owner="bob"))] == [b]
    assert [r.id for r in queue(deps, ADA, QueueFilter(True, project="nlp"))] == [a]
    row = queue(deps, BOB, QueueFilter())[0]
    assert row.est_energy_kwh is not None and row.est_energy_kwh > 0 and not row.late
