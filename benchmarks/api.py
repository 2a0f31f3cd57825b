"""The HTTP API against the same work done locally: submits and the queue listing.

    python -m benchmarks.api [--clients 8] [--submits 500] [--jobs 10000] [--json]
    python -m benchmarks.api --quick   -> 2 clients x 10 submits, 200 jobs (a CI smoke run)

1. Submits: `--clients` client processes (each its own interpreter, so that clients do
   not share a GIL with each other or with the server) each POST `--submits` tiny specs
   (builtin:minilm on 40 rows of the demo CSV; the token counts are cached by dataset
   content after the first) to one server. Afterwards the database must hold exactly
   clients x submits jobs, each submit's unique name exactly once, under the ids the
   server answered with: none lost, none duplicated. The baseline is the same number of
   submits through `gridwait.app.jobs.submit_remote` in one process, one after another,
   on its own database: the server is one process too (uvicorn, its thread pool and one
   GIL), so that is the most it could do; eight in-process writers would measure the
   machine's cores instead. Goal: HTTP at >= 0.5 x the in-process rate.
2. Listing: `GET /api/v1/jobs` with `--jobs` queued jobs (made as
   `benchmarks/queue_listing.py` makes them) against the local `gridwait queue --json`,
   the whole command as queue_listing.py times it, interleaved, `--repeat` times each.
   The HTTP time is one request on a new connection from a client that is already
   running, body decoded, against a server that has answered once (a service is
   long-lived; a command starts cold every time). Goal: the median ratio <= 1.5.

Each server is `ApiServer` alone in a child process (`--serve`), not `gridwait run`: the
service's scheduler would plan, and then start, the submitted jobs and write to the same
database while it is measured; the API's code path is the same.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

SUBMIT_GOAL = 0.5
"""HTTP submits per second over in-process submits per second, at least."""
LISTING_GOAL = 1.5
"""HTTP listing time over `gridwait queue --json` time, at most."""
DEMO = Path(__file__).resolve().parents[1] / "gridwait" / "data" / "demo_reviews.csv"
USER = "bench"


def job_spec(name: str) -> dict[str, Any]:
    """A tiny spec as a client sends it: estimating it reads 40 rows once, then the cache."""
    return {
        "name": name,
        "model": "builtin:minilm",
        "dataset": {"path": str(DEMO), "limit": 40},
        "max_length": 32,
        "deadline": "36h",
    }


def submit_names(client: int, submits: int) -> list[str]:
    return [f"c{client}-{i}" for i in range(submits)]


# --- the server, in a child process --------------------------------------------------


def serve() -> None:
    """`--serve`: the API alone on GRIDWAIT_DB, until stdin closes."""
    from gridwait.api.server import ApiServer
    from gridwait.app.deps import Deps
    from gridwait.clock import SystemClock
    from gridwait.config import load_settings

    deps = Deps(load_settings(), SystemClock())
    server = ApiServer(deps, deps.settings.api.host, deps.settings.api.port)
    server.start()
    print(f"API on {server.url}", file=sys.stderr, flush=True)
    try:
        sys.stdin.read()  # the parent closes it (or dies): time to go
    finally:
        server.stop()
        deps.close()


@contextmanager
def api_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """A `--serve` child on env's database; yields its URL."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.api", "--serve"],
            stdin=subprocess.PIPE,
            stderr=err,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            found = re.search(r"API on (http://\S+)", log.read_text())
            url = found.group(1) if found else None
            if url is None and (proc.poll() is not None or time.monotonic() > deadline):
                raise RuntimeError(f"the API server did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield url
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(30)


# --- databases -------------------------------------------------------------------------


@dataclass
class Lab:
    """A database with one member and their token, and the environment that names it."""

    db: Path
    env: dict[str, str]
    token: str


def settings_of(lab: Lab) -> Any:
    from gridwait.config import load_settings

    return load_settings(Path(lab.env["GRIDWAIT_CONFIG"]), db=lab.db)


def make_lab(tmp: Path, name: str) -> Lab:
    from gridwait.app.actor import Role, host_admin
    from gridwait.app.deps import Deps
    from gridwait.app.users import add_user, issue_token
    from gridwait.clock import SystemClock
    from gridwait.config import load_settings

    settings = tmp / "gridwait.toml"
    settings.touch()  # empty: the defaults, and no user file of the machine's
    db = tmp / f"{name}.db"
    # no GRIDWAIT_URL: the local command must read the database, not a server
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWAIT_")}
    env.update(
        GRIDWAIT_DB=str(db),
        GRIDWAIT_CONFIG=str(settings),
        GRIDWAIT_API__LISTEN="127.0.0.1:0",
    )
    deps = Deps(load_settings(settings, db=db), SystemClock())
    try:
        add_user(deps, host_admin(), USER, Role.MEMBER)
        token = issue_token(deps, host_admin(), USER, "bench").token
    finally:
        deps.close()
    return Lab(db, env, token)


def jobs_by_name(db: Path) -> tuple[Counter[str], set[int]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, name FROM jobs").fetchall()
    return Counter(name for _, name in rows), {int(i) for i, _ in rows}


# --- submits ---------------------------------------------------------------------------


@dataclass
class ClientRun:
    began: float
    ended: float
    ids: list[int]
    errors: list[str]


def http_client(url: str, token: str, client: int, submits: int) -> ClientRun:
    """One client process: its submits, one after another, on one connection."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    ids, errors = [], []
    began = time.time()  # wall clock: comparable across processes
    for name in submit_names(client, submits):
        response = session.post(f"{url}/api/v1/jobs", json=job_spec(name), timeout=120)
        if response.status_code == 201:
            ids.append(int(response.json()["job"]["id"]))
        else:
            errors.append(f"{name}: {response.status_code} {response.text[:200]}")
    return ClientRun(began, time.time(), ids, errors)


def http_submits(lab: Lab, tmp: Path, clients: int, submits: int) -> dict[str, Any]:
    with api_server(lab.env, tmp / "submit-server.log") as url:
        warm = requests.post(
            f"{url}/api/v1/jobs",
            json=job_spec("warmup"),
            headers={"Authorization": f"Bearer {lab.token}"},
            timeout=120,
        )  # the first submit imports the estimator and fills the token cache
        assert warm.status_code == 201, warm.text
        with ProcessPoolExecutor(clients) as pool:
            futures = [pool.submit(http_client, url, lab.token, c, submits) for c in range(clients)]
            runs = [f.result() for f in futures]
    seconds = max(r.ended for r in runs) - min(r.began for r in runs)
    answered = [i for r in runs for i in r.ids]
    errors = [e for r in runs for e in r.errors]
    return {**tally(lab.db, clients, submits, answered, errors), **rate(clients, submits, seconds)}


def tally(
    db: Path, clients: int, submits: int, answered: list[int], errors: list[str]
) -> dict[str, Any]:
    """What reached the database against what was sent (the warm-up job aside)."""
    names, ids = jobs_by_name(db)
    names.pop("warmup", None)
    sent = [n for c in range(clients) for n in submit_names(c, submits)]
    return {
        "jobs_in_db": sum(names.values()),
        "lost": sum(1 for n in sent if names[n] == 0),
        "duplicated": sum(count - 1 for count in names.values() if count > 1),
        "unexpected": sum(1 for n in names if n not in set(sent)),
        "answered_ids_distinct": len(set(answered)) == len(answered),
        "answered_ids_in_db": set(answered) <= ids,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def rate(clients: int, submits: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 3), "submits_per_s": round(clients * submits / seconds, 1)}


def in_process_submits(lab: Lab, clients: int, submits: int) -> dict[str, Any]:
    from gridwait.app.actor import Actor, Role
    from gridwait.app.deps import Deps
    from gridwait.app.jobs import submit_remote
    from gridwait.clock import SystemClock
    from gridwait.spec import JobSpec

    deps = Deps(settings_of(lab), SystemClock())
    actor = Actor(USER, Role.MEMBER)
    try:
        submit_remote(deps, actor, JobSpec.model_validate(job_spec("warmup")))
        began = time.perf_counter()
        answered = []
        for c in range(clients):
            for name in submit_names(c, submits):
                # validated from JSON as the route does, so both sides parse the spec
                done = submit_remote(deps, actor, JobSpec.model_validate(job_spec(name)))
                answered.append(done.job.id)
        seconds = time.perf_counter() - began
    finally:
        deps.close()
    return {**tally(lab.db, clients, submits, answered, []), **rate(clients, submits, seconds)}


# --- listing ---------------------------------------------------------------------------


def listing(lab: Lab, tmp: Path, jobs: int, repeat: int) -> dict[str, Any]:
    from benchmarks.queue_listing import fill

    data = tmp / "d.csv"
    data.write_text("text,label\nhello,1\n")
    fill(lab.db, jobs, data)
    cmd = [sys.executable, "-m", "gridwait", "queue", "--json"]
    local_s: list[float] = []
    http_s: list[float] = []
    with api_server(lab.env, tmp / "listing-server.log") as url:
        headers = {"Authorization": f"Bearer {lab.token}"}
        requests.get(f"{url}/api/v1/jobs", headers=headers, timeout=120).raise_for_status()
        for _ in range(repeat):  # interleaved, so that a busy moment hits both alike
            began = time.perf_counter()
            done = subprocess.run(cmd, env=lab.env, capture_output=True, check=True)
            local_s.append(time.perf_counter() - began)
            local_rows = len(json.loads(done.stdout))
            began = time.perf_counter()
            with requests.get(f"{url}/api/v1/jobs", headers=headers, timeout=120) as answer:
                answer.raise_for_status()
                http_rows = len(answer.json())
            http_s.append(time.perf_counter() - began)
    return {
        "jobs": jobs,
        "local_rows": local_rows,
        "http_rows": http_rows,
        "local_s_min": round(min(local_s), 4),
        "local_s_median": round(statistics.median(local_s), 4),
        "http_s_min": round(min(http_s), 4),
        "http_s_median": round(statistics.median(http_s), 4),
        "ratio_http_to_local_median": round(
            statistics.median(http_s) / statistics.median(local_s), 3
        ),
        "ratio_http_to_local_min": round(min(http_s) / min(local_s), 3),
    }


# --- the run ---------------------------------------------------------------------------


def run(clients: int, submits: int, jobs: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "http").mkdir()
        (tmp / "local").mkdir()
        (tmp / "list").mkdir()
        began = time.perf_counter()
        http = http_submits(make_lab(tmp / "http", "http"), tmp, clients, submits)
        local = in_process_submits(make_lab(tmp / "local", "local"), clients, submits)
        listed = listing(make_lab(tmp / "list", "list"), tmp, jobs, repeat)
    submit_ratio = http["submits_per_s"] / local["submits_per_s"]
    intact = all(
        side["jobs_in_db"] == clients * submits
        and side["lost"] == side["duplicated"] == side["unexpected"] == side["errors"] == 0
        and side["answered_ids_distinct"]
        and side["answered_ids_in_db"]
        for side in (http, local)
    )
    return {
        "submits": {
            "clients": clients,
            "per_client": submits,
            "expected": clients * submits,
            "http": http,
            "in_process_sequential": local,
            "ratio_http_to_in_process": round(submit_ratio, 3),
        },
        "listing": listed,
        "goals": {
            "submit_ratio_at_least": SUBMIT_GOAL,
            "listing_ratio_at_most": LISTING_GOAL,
        },
        "pass": {
            "none_lost_or_duplicated": intact,
            "submit_ratio": submit_ratio >= SUBMIT_GOAL,
            "listing_ratio": listed["ratio_http_to_local_median"] <= LISTING_GOAL,
            "listing_rows_match": listed["local_rows"] == listed["http_rows"] == jobs,
        },
        "total_runtime_s": round(time.perf_counter() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--submits", type=int, default=500, help="per client")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs in the listing")
    parser.add_argument("--repeat", type=int, default=5, help="timings of each listing")
    parser.add_argument("--quick", action="store_true", help="2 x 10 submits, 200 jobs")
    parser.add_argument("--json", action="store_true", help="one line")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.quick:
        args.clients, args.submits, args.jobs, args.repeat = 2, 10, 200, 2
    result = run(args.clients, args.submits, args.jobs, args.repeat)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    # a lost or duplicated job is a bug, not a slow run: say so in the exit code
    sys.exit(0 if result["pass"]["none_lost_or_duplicated"] else 1)


if __name__ == "__main__":
    main()
