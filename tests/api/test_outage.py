"""Kill the API process for 20 s while a worker reports: after it is back, every sample
is stored and the run's energy is what an uninterrupted run measures."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gridwait.app.actor import Actor, Role
from gridwait.app.deps import Deps
from gridwait.app.runs import issue_run_token
from gridwait.clock import SystemClock
from gridwait.config import load_settings
from gridwait.workers.http_reporter import HttpReporter
from gridwait.workers.meters import FakeMeter, RunMeter
from gridwait.workers.reporter import Outcome
from gridwait.workers.sampler import Sampler
from tests.api.conftest import Lab

pytestmark = pytest.mark.slow
OUTAGE_S = 20.0
PERIOD_S = 0.5
WATTS = 110.0  # 100 W CPU + 10 W RAM

SERVE = """
import sys, time
from gridwait.api.server import ApiServer
from gridwait.app.deps import Deps
from gridwait.clock import SystemClock
from gridwait.config import load_settings
server = ApiServer(Deps(load_settings(), SystemClock()), "127.0.0.1", int(sys.argv[1]))
server.start()
print("up", flush=True)
time.sleep(3600)
"""


def _serve(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_killed_service_loses_no_sample(env: Path, tmp_path: Path) -> None:
    deps = Deps(load_settings(), SystemClock())
    lab = Lab("", deps)
    run_id, _ = lab.claimed_run(Actor("alice", Role.MEMBER))
    token = issue_run_token(deps, run_id)
    port = _free_port()
    api = _serve(port)
    clock = SystemClock()
    reporter = HttpReporter(f"http://127.0.0.1:{port}", run_id, token, tmp_path / "spool.jsonl")
    reporter.start(str(os.getpid()), "here")
    meter = RunMeter(clock, None, FakeMeter(100.0, clock), FakeMeter(10.0, clock))
    sampler = Sampler(meter, reporter, clock, PERIOD_S, threading.Event())
    sampler.start()
    try:
        time.sleep(3)
        api.send_signal(signal.SIGKILL)
        api.wait()
        down = clock.monotonic()
        time.sleep(OUTAGE_S)
        spooled = len((tmp_path / "spool.jsonl").read_text().splitlines())
        api = _serve(port)
        up = clock.monotonic()
        time.sleep(3)
        final = sampler.stop()
        reporter.finish(Outcome(state="succeeded", duration_s=final.elapsed_s, final=final))
    finally:
        api.kill()
        api.wait()
    assert spooled >= OUTAGE_S / PERIOD_S * 0.8  # the outage's samples waited on disk
    with sqlite3.connect(deps.settings.db) as conn:
        elapsed = [
            r[0]
            for r in conn.execute(
                "SELECT elapsed_s FROM energy_samples WHERE run_id = ? ORDER BY id", (run_id,)
            )
        ]
        energy, state = conn.execute(
            "SELECT energy_it_j, state FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
    assert state == "succeeded"
    assert len(elapsed) == sampler.count  # every sample taken is stored, once
    assert elapsed == sorted(elapsed) and len(set(elapsed)) == len(elapsed)
    gaps = [b - a for a, b in itertools.pairwise(elapsed)]
    assert max(gaps) < PERIOD_S + 1.0  # none missing, also while the service was away
    during = [e for e in elapsed if down - sampler._t0 < e < up - sampler._t0]
    assert len(during) >= OUTAGE_S / PERIOD_S * 0.8
    print(
        f"outage {OUTAGE_S:g} s: {spooled} samples spooled, {len(elapsed)} of {sampler.count}"
        f" stored, energy {energy:.1f} J vs {WATTS * final.elapsed_s:.1f} J uninterrupted"
    )
    # energy: what an uninterrupted run measures over the same time, within one step
    assert energy == pytest.approx(WATTS * final.elapsed_s, abs=WATTS * PERIOD_S)
    deps.close()
