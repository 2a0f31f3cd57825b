"""The APScheduler adapter: domain times on a simulated clock, and a shutdown that
cannot deadlock with a job that is rescheduling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

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


def test_a_slow_network_job_does_not_delay_the_default_lane() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    timer = Timer(clock)
    fetching, dispatched = threading.Event(), threading.Event()
    stamps: dict[str, float] = {}
    ticks: list[float] = []

    def fetch() -> None:  # a provider call that takes its whole deadline
        stamps["fetch began"] = time.monotonic()
        fetching.set()
        time.sleep(2)
        stamps["fetch ended"] = time.monotonic()

    def dispatch() -> None:
        stamps["dispatched"] = time.monotonic()
        dispatched.set()

    timer.every("fetch", 3600, fetch, lane="network")
    timer.start()
    try:
        assert fetching.wait(5)
        timer.every("tick", 0.1, lambda: ticks.append(time.monotonic()))
        timer.at("start-1", clock.now() + timedelta(seconds=0.5), dispatch)
        assert dispatched.wait(5)
        assert "fetch ended" not in stamps  # dispatched while the fetch still ran...
        assert stamps["dispatched"] - stamps["fetch began"] < 1.0  # ...on time (0.5 s)
        time.sleep(2.2 - (time.monotonic() - stamps["fetch began"]))
    finally:
        timer.shutdown()
    during = [t for t in ticks if t < stamps["fetch ended"]]
    assert len(during) >= 10  # the default lane kept ticking every 0.1 s meanwhile
    assert max(b - a for a, b in pairwise(during)) < 0.5


def test_jobs_of_one_lane_never_overlap() -> None:
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    timer = Timer(clock)
    spans: list[tuple[float, float]] = []
    done = threading.Semaphore(0)

    def fetch() -> None:
        began = time.monotonic()
        time.sleep(0.3)
        spans.append((began, time.monotonic()))
        done.release()

    for name in ("fetch-uk", "fetch-em", "fetch-wt"):
        timer.at(name, clock.now(), fetch, lane="network")
    timer.start()
    try:
        for _ in range(3):
            assert done.acquire(timeout=5)
    finally:
        timer.shutdown()
    spans.sort()
    assert all(a[1] <= b[0] for a, b in pairwise(spans))


def test_shutdown_waits_for_a_network_job_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1)
    timer = Timer(clock)
    started, finished, planned = threading.Event(), threading.Event(), threading.Event()

    def fetch_then_plan() -> None:
        started.set()
        time.sleep(0.5)
        # hands the fetched series to the default lane: needs APScheduler's lock
        timer.at("plan", clock.now(), planned.set)
        finished.set()

    timer.every("fetch", 3600, fetch_then_plan, lane="network")
    timer.every("tick", 0.1, lambda: None)
    timer.start()
    assert started.wait(5)
    began = time.monotonic()
    timer.shutdown()
    assert finished.is_set() and time.monotonic() - began < 5
    time.sleep(0.2)
    assert not planned.is_set()  # nothing runs once shutdown began
    assert [e.exc_value for e in errors] == []
    assert {t.name for t in threading.enumerate() if t.name.startswith("APScheduler")} == set()


def test_an_unknown_lane_is_refused_at_once() -> None:
    timer = Timer(SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), factor=1))
    with pytest.raises(ValueError, match="unknown lane 'gpu'"):
        timer.every("poll", 60, lambda: None, lane="gpu")  # type: ignore[arg-type]
