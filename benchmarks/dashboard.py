"""The dashboard's Now page against `GET /api/v1/plan`, in the same run, on a real
uvicorn: N queued jobs (1 GPU each, 1-3 h, deadlines 12-48 h away) on a lab of 8 GPUs,
the demo's zone and its built-in typical day, a clock standing at the demo's start.

Both answers re-plan the queue (the Now page also reads the forecast, the past hours'
actuals and the running jobs, and renders the figure); the time is the request's wall
time from a client on the same host (the server's time plus a loopback round trip),
median of `--repeat` after one warm-up each. Goal: now / plan <= 3.

python -m benchmarks.dashboard [--jobs 500] [--repeat 7] [--quick]   -> prints JSON
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from gridwait.api.server import ApiServer
from gridwait.app.actor import Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.users import add_user, issue_token
from gridwait.clock import ManualClock, SystemClock
from gridwait.config import Settings
from gridwait.spec import JobSpec, resolve
from gridwait.store.jobs import add_job

GOAL_RATIO = 3.0
# midnight in California, as in the demo, tomorrow: ahead of the real time, or the client
# would drop the session cookie as expired
T0 = SystemClock().now().replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)


def fill(deps: Deps, n: int, data: Path) -> None:
    """N queued jobs with their estimates set (the estimate itself is not measured here)."""
    with deps.store().write() as session:
        for i in range(n):
            spec = JobSpec.model_validate(
                {
                    "name": f"bench-{i}",
                    "model": "builtin:minilm",
                    "owner": f"user{i % 7}",
                    "project": f"project{i % 5}",
                    "gpus": 1,
                    "deadline": f"{12 + i % 37}h",
                    "dataset": {"path": str(data)},
                }
            )
            job = add_job(session, resolve(spec, T0, data.parent), 1, T0)
            job.est_seconds = 3600.0 * (1 + i % 3)
            job.est_energy_j = 300.0 * job.est_seconds  # 300 W
            job.est_power_w = 300.0
            job.est_method = "benchmark"
            session.add(job)


def timed(get: requests.Session, url: str, repeat: int) -> tuple[float, int]:
    """Median seconds of `repeat` GETs after a warm-up, and the answer's size in bytes."""
    answer = get.get(url, timeout=300)
    answer.raise_for_status()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = get.get(url, timeout=300)
        times.append(time.perf_counter() - began)
        answer.raise_for_status()
    return statistics.median(times), len(answer.content)


def run(jobs: int, repeat: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        data = where / "d.csv"
        data.write_text("text,label\nhello,1\n")
        settings = Settings(
            db=where / "gridwait.db",
            grid={"provider": "profile", "zone": "US-CAL-CISO"},
            scheduler={"gpus": 8},
        )
        deps = Deps(settings, ManualClock(T0))
        add_user(deps, host_admin(), "root", Role.ADMIN)
        token = issue_token(deps, host_admin(), "root").token
        fill(deps, jobs, data)
        server = ApiServer(deps, "127.0.0.1", 0)
        server.start()
        try:
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {token}"
            plan_s, plan_bytes = timed(api, f"{server.url}/api/v1/plan", repeat)
            page = requests.Session()
            page.post(f"{server.url}/signin", data={"token": token}, timeout=60)
            now_s, now_bytes = timed(page, f"{server.url}/now", repeat)
            html = page.get(f"{server.url}/now", timeout=300).text
            found = re.search(r'id="now-chart-data">(.*?)</script>', html, re.S)
            assert found, "the Now page has no figure"
            figure = json.loads(found.group(1))
            bars = sum(len(t["customdata"]) for t in figure["data"] if t.get("type") == "bar")
        finally:
            server.stop()
            deps.close()
    ratio = now_s / plan_s
    return {
        "jobs": jobs,
        "repeat": repeat,
        "plan_api_s_median": round(plan_s, 6),
        "plan_api_bytes": plan_bytes,
        "now_page_s_median": round(now_s, 6),
        "now_page_bytes": now_bytes,
        "now_page_bars": bars,
        "ratio": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "pass": ratio <= GOAL_RATIO,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="20 jobs, 2 repeats (a smoke run)")
    args = parser.parse_args()
    jobs, repeat = (20, 2) if args.quick else (args.jobs, args.repeat)
    print(json.dumps(run(jobs, repeat)))


if __name__ == "__main__":
    main()
