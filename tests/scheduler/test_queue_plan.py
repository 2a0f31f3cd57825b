"""The planning pass over the stored queue: what running jobs hold."""

from __future__ import annotations

import json
from datetime import timedelta

from gridwait.scheduler.queue_plan import _running
from gridwait.store.models import Job
from tests.conftest import T0

H = timedelta(hours=1)


def running_job(interruptible: bool, segments: list[tuple[int, int]]) -> Job:
    return Job(
        id=1,
        name="j",
        owner="a",
        project="p",
        model="m",
        task="t",
        dataset="d",
        spec_json="{}",
        epochs=1,
        batch_size=1,
        max_length=8,
        learning_rate=1e-4,
        gpus=2,
        interruptible=interruptible,
        padding="dynamic",
        max_retries=1,
        submitted_at=T0,
        earliest_start=T0,
        deadline=T0 + 24 * H,
        state="running",
        updated_at=T0,
        est_seconds=3600.0,
        planned_start=T0 + segments[0][0] * H,
        planned_end=T0 + segments[-1][1] * H,
        plan_segments_json=json.dumps(
            [[(T0 + a * H).isoformat(), (T0 + b * H).isoformat()] for a, b in segments]
        ),
    )


def test_an_interruptible_job_holds_its_gpus_only_for_the_running_segment() -> None:
    """Its later segments are re-planned when it is suspended: holding the whole span
    (hours 0 to 9 here) pushed other jobs late again and again."""
    held = _running(running_job(True, [(0, 2), (5, 6), (8, 9)]), T0, 1.0, timedelta(minutes=5))
    assert (held.gpus, held.until) == (2, T0 + 2 * H)


def test_a_contiguous_job_holds_them_until_its_planned_end() -> None:
    held = _running(running_job(False, [(0, 3)]), T0, 1.0, timedelta(minutes=5))
    assert held.until == T0 + 3 * H


def test_an_overrunning_job_holds_them_a_step_past_now() -> None:
    held = _running(running_job(False, [(0, 1)]), T0 + 2 * H, 1.0, timedelta(minutes=5))
    assert held.until == T0 + 2 * H + timedelta(minutes=5)
