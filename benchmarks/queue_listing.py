"""`gridwait queue --json` with N jobs in the database: wall time of the whole command.

python benchmarks/queue.py [--jobs 10000]   -> prints JSON
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridwait.clock import ManualClock
from gridwait.spec import JobSpec, resolve
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job


def fill(db: Path, n: int, data: Path) -> None:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    store = Store(db, ManualClock(now))
    spec = JobSpec.model_validate(
        {
            "name": "bench",
            "model": "builtin:minilm",
            "deadline": "36h",
            "dataset": {"path": str(data)},
        }
    )
    sub = resolve(spec, now, data.parent)
    with store.write() as session:
        for i in range(n):
            add_job(session, sub, 1, now + timedelta(seconds=i))
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        data.write_text("text,label\nhello,1\n")
        db = Path(tmp) / "q.db"
        fill(db, args.jobs, data)
        settings = Path(tmp) / "empty.toml"
        settings.touch()
        env = {**os.environ, "GRIDWAIT_DB": str(db), "GRIDWAIT_CONFIG": str(settings)}
        cmd = [sys.executable, "-m", "gridwait", "queue", "--json"]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        rows = len(json.loads(done.stdout))
    print(
        json.dumps(
            {
                "jobs": rows,
                "seconds_min": min(times),
                "seconds_median": sorted(times)[len(times) // 2],
            }
        )
    )


if __name__ == "__main__":
    main()
