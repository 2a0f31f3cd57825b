"""The plan as a view: what it tells the reader about the numbers it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridwait.app.deps import Deps
from gridwait.app.jobs import submit
from gridwait.app.planning import plan
from gridwait.clock import SimulatedClock
from tests.app.conftest import ADA, submission
from tests.conftest import T0


def test_a_plan_on_a_real_time_clock_has_no_stretch_note(deps: Deps, dataset: Path) -> None:
    submit(deps, ADA, submission(dataset))
    view = plan(deps, ADA)
    assert [row.status for row in view.jobs] == ["planned"]
    assert not [n for n in view.notes if "stretched" in n]


def test_a_plan_on_a_simulated_clock_says_run_times_are_stretched(
    deps: Deps, dataset: Path
) -> None:
    """A worker runs in real time, so each real second of work fills `factor` seconds of
    a simulated clock: the plan is right to stretch it, and says so."""
    submit(deps, ADA, submission(dataset))
    fast = Deps(deps.settings, SimulatedClock(T0, 60))
    try:
        view = plan(fast, ADA)
        row = view.jobs[0]
        assert row.start is not None and row.end is not None
        estimate = row.end - row.start
    finally:
        fast.close()
    real = plan(deps, ADA).jobs[0]
    assert real.start is not None and real.end is not None
    assert estimate.total_seconds() == pytest.approx(60 * (real.end - real.start).total_seconds())
    assert (
        "simulated clock x60: every job's run time is stretched 60 times in clock time"
        " (a worker runs in real time), e.g. 10 s of work fills 10m00s of the plan"
    ) in view.notes
