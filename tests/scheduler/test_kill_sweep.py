"""A short kill -9 sweep of the service (benchmarks/kill_sweep.py runs the long one):
nothing lost, failed, started twice or orphaned however the service dies."""

from __future__ import annotations

import argparse

import pytest

from benchmarks.kill_sweep import sweep

pytestmark = pytest.mark.slow


def test_killing_the_service_loses_nothing() -> None:
    tally = sweep(argparse.Namespace(kills=5, jobs=2, seed=3, factor=60.0))
    assert tally.kills >= 5 and tally.jobs >= 2
    assert (tally.lost, tally.failed_by_service, tally.double_starts, tally.orphans) == (
        0,
        0,
        0,
        0,
    ), tally.problems
    assert tally.succeeded == tally.jobs
