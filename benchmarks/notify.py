"""The notifier's cost to the scheduler: the pass every tick runs when nothing happened
(over a database with many past events), a pass over a burst of new events, and one
real apprise delivery to a local json:// target.

python -m benchmarks.notify [--jobs 5000] [--burst 500] [--repeat 20]   -> prints JSON
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pydantic import SecretStr

from gridwait.clock import ManualClock
from gridwait.config import NotifySettings
from gridwait.notify.apprise_notifier import AppriseNotifier
from gridwait.notify.base import Message
from gridwait.notify.outbox import Outbox
from gridwait.notify.recording import RecordingNotifier
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, transition
from gridwait.store.notify import cursor

NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _jobs(store: Store, data: Path, n: int, moves: list[JobState]) -> None:
    spec = JobSpec.model_validate(
        {
            "name": "bench",
            "model": "builtin:minilm",
            "deadline": "36h",
            "dataset": {"path": str(data)},
        }
    )
    sub = resolve(spec, NOW, data.parent)
    with store.write() as session:
        for i in range(n):
            job = add_job(session, sub, 1, NOW + timedelta(seconds=i))
            for state in moves:
                transition(session, job, state, NOW, "bench")


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _drain(store: Store, outbox: Outbox) -> None:
    """Pass until every event is dealt with (a pass takes at most BATCH of them)."""
    while True:
        with store.read() as session:
            before = cursor(session)
        outbox.deliver(NOW)
        with store.read() as session:
            if cursor(session) == before:
                return


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        data.write_text("text,label\nhello,1\n")
        store = Store(Path(tmp) / "n.db", ManualClock(NOW))
        done = [JobState.PLANNED, JobState.RUNNING, JobState.SUCCEEDED]
        _jobs(store, data, args.jobs, done)
        settings = NotifySettings(urls=[SecretStr("json://127.0.0.1:9/lab")])
        recorder = RecordingNotifier()
        outbox = Outbox(store, settings, recorder)
        _drain(store, outbox)  # the past: dealt with once
        idle = _median_ms(lambda: outbox.deliver(NOW), args.repeat)
        _jobs(store, data, args.burst, done)
        began = time.perf_counter()
        _drain(store, outbox)
        burst_s = time.perf_counter() - began
        sent = len(recorder.sent) - 2 * args.jobs
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"json://127.0.0.1:{server.server_address[1]}/hook"
        apprise = AppriseNotifier(timeout_s=5)
        message = Message("test", "gridwait: bench", "a body of a few words")
        warm = apprise.send(url, message)  # the import and the plugin table, once
        if not warm.ok:  # else the median would time failures, not deliveries
            raise SystemExit(f"the local json:// target refused: {warm.reason}")
        delivery = _median_ms(lambda: apprise.send(url, message), args.repeat)
        server.shutdown()
        store.close()
    print(
        json.dumps(
            {
                "past_events": args.jobs * 4,
                "idle_pass_ms": idle,
                "burst_events": args.burst * 4,
                "burst_messages": sent,
                "burst_s": round(burst_s, 3),
                "burst_messages_per_s": round(sent / burst_s, 1),
                "apprise_json_delivery_ms": delivery,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
