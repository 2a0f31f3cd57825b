"""The APScheduler adapter: domain times on a simulated clock, and a shutdown that
cannot deadlock with a job that is rescheduling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from gridwait.clock import SimulatedClock
from gridwait.scheduler.timer import Timer


def test_a_domain_time_fires_after_the_real_delay() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=3600)
    timer = Timer(clock)
    fired = threading.Event()
    timer.start()
    try:
        began = time.monotonic()
        timer.at("start-1", clock.now() + timedelta(hours=1), fired.set)  # one real second
        assert "start-1" in timer.names()
        assert fired.wait(10)
        assert 0.5 < time.monotonic() - began < 5
    finally:
        timer.shutdown()


def test_shutdown_waits_for_a_job_that_touches_the_timer() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    timer = Timer(clock)
    started, finished = threading.Event(), threading.Event()

    def replan() -> None:
        started.set()
        time.sleep(0.3)
        timer.at(
            "start-9", clock.now() + timedelta(hours=5), lambda: None
        )  # needs APScheduler's lock
        timer.names()
        finished.set()

    timer.every("poll", 3600, replan)
    timer.start()
    assert started.wait(5)
    began = time.monotonic()
    timer.shutdown()
    assert finished.is_set() and time.monotonic() - began < 5


def test_cancel_is_quiet_for_a_job_that_fired_or_never_was() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    timer = Timer(clock)
    fired = threading.Event()
    timer.start()
    try:
        timer.at("start-2", clock.now(), fired.set)
        assert fired.wait(5)
        timer.cancel("start-2")
        timer.cancel("start-never")
        assert "start-2" not in timer.names()
    finally:
        timer.shutdown()


def test_shutdown_right_after_a_one_shot_job_fired_leaves_no_thread_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    for _ in range(20):
        timer = Timer(clock)
        fired = threading.Event()
        timer.start()
        timer.at("start-1", clock.now(), fired.set)
        assert fired.wait(5)
        timer.shutdown()  # while APScheduler may still be removing the fired job
    time.sleep(0.2)
    assert [e.exc_value for e in errors] == []
