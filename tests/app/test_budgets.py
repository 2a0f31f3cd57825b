"""Budgets: only admins change them, everyone reads them, and ONE usage figure is what
`budget list`, `report` and the planner's checks all see."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridwait.app.budgets import remove_budget, set_budget, usage
from gridwait.app.deps import Deps
from gridwait.app.history import RunFilter, report
from gridwait.app.jobs import submit
from gridwait.errors import ConfigError, NotFoundError, PermissionDenied
from gridwait.scheduler.budgets import Ledger, month_bounds
from gridwait.states import JobState, RunState
from gridwait.store.budgets import month_usage
from gridwait.store.jobs import get_job, transition
from gridwait.store.models import Run
from tests.app.conftest import ADA, ADMIN, BOB, submission
from tests.conftest import T0


def test_only_admins_change_budgets(deps: Deps) -> None:
    with pytest.raises(PermissionDenied, match="only admins"):
        set_budget(deps, ADA, "user", "ada", 1000.0)
    view = set_budget(deps, ADMIN, "user", "ada", 1000.0)
    assert (view.scope, view.name, view.monthly_g, view.month) == ("user", "ada", 1000.0, "2026-03")
    with pytest.raises(PermissionDenied):
        remove_budget(deps, BOB, "user", "ada")
    assert [b.name for b in usage(deps, BOB)] == ["ada"]  # members read them
    remove_budget(deps, ADMIN, "user", "ada")
    with pytest.raises(NotFoundError):
        remove_budget(deps, ADMIN, "user", "ada")


@pytest.mark.parametrize(
    ("scope", "name", "grams", "message"),
    [
        ("team", "x", 1.0, "scope must be user or project"),
        ("user", " ", 1.0, "name is empty"),
        ("user", "ada", 0.0, "must be positive"),
        ("user", "ada", float("nan"), "must be positive"),
    ],
)
def test_bad_budgets_are_refused(
    deps: Deps, scope: str, name: str, grams: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        set_budget(deps, ADMIN, scope, name, grams)


def _lab_month(deps: Deps, dataset: Path) -> None:
    """ada: a run that ended this month (12 g) and a planned job (5 g); bob: a running job
    (3 g) in project nlp too; a run of last month that does not count."""
    a1 = submit(deps, ADA, submission(dataset, project="nlp")).job.id
    a2 = submit(deps, ADA, submission(dataset, project="nlp")).job.id
    b1 = submit(deps, BOB, submission(dataset, project="nlp")).job.id
    with deps.store().write() as session:
        for job_id, grams, state in ((a2, 5.0, JobState.PLANNED), (b1, 3.0, JobState.PLANNED)):
            job = get_job(session, job_id)
            job.planned_start, job.plan_forecast_g = T0 + timedelta(hours=1), grams
            transition(session, job, state, T0)
        transition(session, get_job(session, b1), JobState.RUNNING, T0)
        for ended, grams in ((T0, 12.0), (T0 - timedelta(days=40), 99.0)):
            session.add(
                Run(
                    job_id=a1,
                    attempt=1,
                    state=RunState.SUCCEEDED,
                    claimed_at=ended,
                    started_at=ended,
                    ended_at=ended,
                    emissions_g=grams,
                )
            )


def test_one_usage_for_budget_list_report_and_planner(deps: Deps, dataset: Path) -> None:
    _lab_month(deps, dataset)
    set_budget(deps, ADMIN, "user", "ada", 100.0)
    set_budget(deps, ADMIN, "project", "nlp", 50.0)
    listed = {(b.scope, b.name): (b.used_g, b.committed_g, b.left_g) for b in usage(deps, ADA)}
    assert listed == {("user", "ada"): (12.0, 5.0, 83.0), ("project", "nlp"): (12.0, 8.0, 30.0)}
    by_user = {r.user: r.budget_used_g for r in report(deps, BOB, "user", RunFilter())}
    assert by_user == {"ada": 17.0}  # used + committed, the same rows
    by_project = {r.project: r.budget_used_g for r in report(deps, BOB, "project", RunFilter())}
    assert by_project == {"nlp": 20.0}
    # the planner re-planning ada's planned job counts everything else, and bob's running one
    start, end = month_bounds(T0)
    with deps.store().read() as session:
        month = month_usage(session, start, end)
    ledger = Ledger()
    ledger.add_month("2026-03", month, replanning=frozenset({2, 3}))
    assert ledger.of("user", "ada", "2026-03") == 12.0
    assert ledger.of("project", "nlp", "2026-03") == 15.0
    assert ledger.of("user", "bob", "2026-03") == 3.0


def test_a_total_budget_counts_embodied_use_and_commitments(deps: Deps, dataset: Path) -> None:
    from sqlmodel import select

    from gridwait.store.models import Job

    _lab_month(deps, dataset)
    with deps.store().write() as session:
        run = session.exec(select(Run).where(Run.emissions_g == 12.0)).one()
        run.embodied_g = 4.0
        session.add(run)
        seconds = {j.owner: j.est_seconds or 0.0 for j in session.exec(select(Job)).all()}
    set_budget(deps, ADMIN, "user", "bob", 100.0, counts="total")
    view = set_budget(deps, ADMIN, "user", "ada", 100.0, counts="total")
    assert view.counts == "total" and view.used_g == 12.0 + 4.0
    # a CPU job's planned hours x a 16-core machine's share of a 2,500 kg server over
    # 6 years at 85 % use (no [energy] hardware set)
    per_hour = 2500 * 16 / 64 * 1000 / (6 * 8760 * 0.85)
    bob = next(b for b in usage(deps, ADA) if b.name == "bob")
    assert bob.committed_g == pytest.approx(3.0 + per_hour * seconds["bob"] / 3600)
    with pytest.raises(ConfigError, match="operational or total"):
        set_budget(deps, ADMIN, "user", "ada", 100.0, counts="everything")
    row = report(deps, BOB, "user", RunFilter())[0]
    assert row.budget_counts == "total"
