"""The service while its provider stalls: a local HTTP server that answers, then drips its
headers a byte at a time. The poll ends at the request's deadline and the plan falls back
to the stored forecast, labelled; meanwhile the service dispatches the job planned before
the stall and follows its run (a cancel reaches the worker) on time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gridwait.app.actor import host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import cancel
from gridwait.clock import SimulatedClock
from gridwait.config import Settings
from gridwait.grid.factory import build_provider
from gridwait.scheduler.service import Service
from gridwait.spec import resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, get_job
from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status
from tests.conftest import minilm_spec, serve_in_thread

T0 = datetime(2026, 3, 2, 0, tzinfo=UTC)
FACTOR = 3600.0  # a domain hour per real second
CHEAP_HOUR = 3
STALL_S = 3.0  # the request deadline: timeout_s x (retries + 1), no backoff


def forecast_body() -> bytes:
    items = [
        {
            "carbonIntensity": 50 if h == CHEAP_HOUR else 300,
            "datetime": (T0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
        for h in range(72)
    ]
    return json.dumps(
        {"zone": "DE", "forecast": items, "updatedAt": "2026-03-01T23:50:00Z"}
    ).encode()


class Provider(ThreadingHTTPServer):
    """Answers forecasts until `stall` is set; then drips the headers until closed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stall = threading.Event()
        self.closing = threading.Event()
        self.stalls_began: list[float] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v3"


class _Handler(BaseHTTPRequestHandler):
    server: Provider

    def do_GET(self) -> None:
        if not self.server.stall.is_set():
            body = forecast_body()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.server.stalls_began.append(time.monotonic())
        head = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"x" * 4000 + b"\r\n\r\n"
        try:
            for byte in head:  # every read gets a byte well within timeout_s
                if self.server.closing.wait(0.2):
                    return
                self.wfile.write(bytes([byte]))
        except OSError:
            pass  # the client cut the connection at its deadline

    def log_message(self, format: str, *args: object) -> None:
        pass


class Recorder(Launcher):
    """Stands in for the worker process: it only records what the service asked of it."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}  # job id: when
        self.handles: dict[int, str] = {}
        self.cancelled: dict[str, float] = {}

    def start(self, request: RunRequest) -> str:
        handle = f"fake-{request.run_id}"
        self.started[request.job_id] = time.monotonic()
        self.handles[request.job_id] = handle
        return handle

    def poll(self, handle: str) -> Status:
        return Status(LaunchState.RUNNING)

    def cancel(self, handle: str) -> None:
        self.cancelled.setdefault(handle, time.monotonic())

    def suspend(self, handle: str) -> None:
        pass


@pytest.fixture
def provider_server() -> Iterator[Provider]:
    yield from serve_in_thread(Provider())


def wait_for(condition: object, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_dispatch_and_cancel_go_on_while_the_provider_stalls(
    tmp_path: Path, dataset: Path, provider_server: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    settings = Settings(
        db=tmp_path / "lab.db",
        electricitymaps_url=provider_server.url,
        grid={
            "provider": "electricitymaps",
            "zone": "DE",
            "timeout_s": STALL_S,
            "retries": 0,
            "cache_ttl_minutes": 0,  # every poll asks the provider
        },
        scheduler={"gpus": 0, "cpu_slots": 1, "poll_minutes": 60, "tick_seconds": 0.1},
    )
    clock = SimulatedClock(T0, FACTOR)
    store = Store(settings.db, clock)
    spec = minilm_spec("a", "20h", dataset)
    with store.write() as session:
        jobs = [add_job(session, resolve(spec, clock.now(), dataset.parent), 1, clock.now())]
        later = spec.model_copy(
            update={"earliest_start": "2026-03-03T06:00:00Z", "deadline": "60h"}
        )
        jobs.append(add_job(session, resolve(later, clock.now(), dataset.parent), 1, clock.now()))
        for job in jobs:
            job.est_seconds, job.est_energy_j = 1.0, 3600.0  # one domain hour on this clock
            session.add(job)
    job_id, other_id = (job.id or 0 for job in jobs)
    recorder = Recorder()
    service = Service(settings, clock, store, build_provider(settings, clock, store), recorder)
    service.start()
    try:
        # the first poll plans the job into the cheap hour, three real seconds ahead
        assert wait_for(lambda: _state(store, job_id) == JobState.PLANNED, 5)
        with store.read() as session:
            planned = get_job(session, job_id)
            assert planned.planned_start == T0 + timedelta(hours=CHEAP_HOUR)
            assert "fallback" not in (planned.plan_source or "")
        provider_server.stall.set()
        assert wait_for(lambda: provider_server.stalls_began, 3), "no poll reached the stall"
        stall_began = provider_server.stalls_began[0]

        # the start timer fires during the stall: dispatched on time, not after the poll
        assert wait_for(lambda: job_id in recorder.started, 5)
        assert recorder.started[job_id] < stall_began + STALL_S, "dispatch waited for the poll"
        handle = recorder.handles[job_id]

        # a cancel reaches the worker within a few ticks, still inside the stall
        cancel(Deps(settings, clock), host_admin(), job_id)
        cancelled_at = time.monotonic()
        assert wait_for(lambda: handle in recorder.cancelled, 2)
        assert recorder.cancelled[handle] - cancelled_at < 1.0

        # the stalled poll ends at its deadline and plans on the stored forecast, labelled
        assert wait_for(lambda: "forecast fallback:" in caplog.text, STALL_S + 3)
    finally:
        service.stop()
    fallback = [r.getMessage() for r in caplog.records if "forecast fallback:" in r.getMessage()]
    assert "no complete answer within the 3 s deadline" in fallback[0]
    assert fallback[0].startswith("forecast fallback: stored forecast fetched 2026-03-02T00:")
    with store.read() as session:  # the job still waiting carries the label with its plan
        other = get_job(session, other_id)
    assert other.state == JobState.PLANNED
    assert "(fallback: stored forecast fetched" in (other.plan_source or "")
    assert "no complete answer within the 3 s deadline" in (other.plan_source or "")


def _state(store: Store, job_id: int) -> JobState:
    with store.read() as session:
        return JobState(get_job(session, job_id).state)
