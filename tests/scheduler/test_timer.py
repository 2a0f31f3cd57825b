"""The APScheduler adapter: domain times on a simulated clock, and a shutdown that
cannot deadlock with a job that is rescheduling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

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
