"""The kill -9 sweep: kill the service at random moments, restart it, until every job is
final; then count what went wrong.

    python benchmarks/kill_sweep.py [--kills 200] [--jobs 6] [--seed 1]   -> prints JSON

Each round submits `--jobs` real fine-tunes of a tiny BERT (CPU, a few seconds each) and
runs `gridwait run --until-idle` on a simulated clock shared across restarts (as after a
real restart), killing it with SIGKILL after a random 0.3-4 s, or, for one start in four,
with a fault that kills it at its first dispatch: after the run is claimed, before any
worker exists (tests/scheduler/faults.py). Workers are never killed: they keep running
while the service is down and are followed again after the restart. Rounds go on until
`--kills` kills were made; then the service runs once more without kills.

Counted at the end (all must be 0):
- lost: jobs not final, or final but not succeeded (nothing may be lost or failed);
- failed_by_service: jobs FAILED (the service dying must never fail a job);
- double_starts: a job whose fine-tune started in two runs that overlap in time, or
  that succeeded in more than one run;
- orphans: worker processes of the sweep still alive after the last service exits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Tally:
    kills: int = 0
    kills_after_claim: int = 0
    rounds: int = 0
    jobs: int = 0
    succeeded: int = 0
    lost: int = 0
    failed_by_service: int = 0
    double_starts: int = 0
    orphans: int = 0
    runs_lost_before_start: int = 0
    runs_lost_after_start: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def flat_trace(path: Path) -> Path:
    """Constant intensity for three weeks: every start costs the same, jobs start at once."""
    start = datetime(2021, 3, 1, tzinfo=UTC)
    rows = [f"{(start + timedelta(hours=h)).isoformat()},300" for h in range(24 * 21)]
    path.write_text("time,intensity\n" + "\n".join(rows) + "\n")
    return path


def prepare(folder: Path) -> tuple[dict[str, str], Path]:
    """Settings, a tiny model and its dataset in `folder`; the environment to run in."""
    from gridwait.workers.tiny import build_model, synthetic_reviews, write_reviews

    data = write_reviews(folder / "reviews.csv", rows=96)
    model = build_model([t for t, _ in synthetic_reviews(96)], folder / "model", size="tiny")
    settings = folder / "gridwait.toml"
    settings.write_text(
        f'[grid]\nprovider = "trace"\ntrace = "{flat_trace(folder / "flat.csv")}"\n'
        'forecast = "perfect"\ntrace_align = "now"\nzone = "DE"\n'
        "[scheduler]\ngpus = 0\ncpu_slots = 1\nlease_seconds = 10\ntick_seconds = 0.5\n"
        "[energy]\nsample_seconds = 0.5\n"
    )
    env = {
        **os.environ,
        "GRIDWAIT_DB": str(folder / "gridwait.db"),
        "GRIDWAIT_CONFIG": str(settings),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    spec = folder / "job.toml"
    spec.write_text(
        f'name = "sweep"\nmodel = "{model}"\ndeadline = "12h"\nbatch_size = 16\n'
        f'max_length = 32\nmax_retries = 0\n[dataset]\npath = "{data}"\nlimit = 32\n'
    )
    return env, spec


def submit(env: dict[str, str], spec: Path, jobs: int) -> None:
    for _ in range(jobs):
        subprocess.run(
            [sys.executable, "-m", "gridwait", "submit", str(spec)],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def all_final(db: Path) -> bool:
    waiting = rows(db, f"SELECT COUNT(*) FROM jobs WHERE state NOT IN {FINAL}")[0][0]
    live = rows(db, "SELECT COUNT(*) FROM runs WHERE state IN ('claimed', 'running')")[0][0]
    return waiting == 0 and live == 0


def start_service(
    env: dict[str, str], timeline: str, fault: bool, log: Path
) -> subprocess.Popen[bytes]:
    command = ["-m", "tests.scheduler.faults", "after-claim", "--"] if fault else ["-m", "gridwait"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *command, "run", "--until-idle", "--clock", timeline],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def one_round(env: dict[str, str], spec: Path, args: argparse.Namespace, tally: Tally) -> None:
    """Submit a round of jobs and kill the service until they are all final (or the
    sweep's kills are used up)."""
    from gridwait.clock import parse_clock

    rng = random.Random(args.seed * 1000 + tally.rounds)
    db, log = Path(env["GRIDWAIT_DB"]), Path(env["GRIDWAIT_DB"]).with_suffix(".log")
    timeline = parse_clock(f"sim:{args.factor:g}").describe()  # one time line per round
    submit(env, spec, args.jobs)
    tally.rounds += 1
    while not all_final(db) and tally.kills < args.kills:
        fault = rng.random() < 0.25
        proc = start_service(env, timeline, fault, log)
        try:
            proc.wait(timeout=rng.uniform(0.3, 4.0) if not fault else 8.0)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            tally.kills += 1
            continue
        if proc.returncode == 137:  # the fault killed it between claim and launch
            tally.kills += 1
            tally.kills_after_claim += 1
    final = start_service(env, timeline, False, log)  # what is left, without kills
    if final.wait(timeout=600) != 0:
        tally.problems.append(f"round {tally.rounds}: the last service exited {final.returncode}")


def check(db: Path, tally: Tally) -> None:
    states = rows(db, "SELECT state, COUNT(*) FROM jobs GROUP BY state")
    counts = {str(s): int(n) for s, n in states}
    tally.jobs = sum(counts.values())
    tally.succeeded = counts.get("succeeded", 0)
    tally.lost = tally.jobs - tally.succeeded
    tally.failed_by_service = counts.get("failed", 0)
    for (job_id,) in rows(db, "SELECT id FROM jobs"):
        runs = rows(
            db,
            "SELECT state, started_at, COALESCE(ended_at, '9999') FROM runs"
            f" WHERE job_id = {job_id} AND started_at IS NOT NULL ORDER BY started_at",
        )
        wins = sum(1 for r in runs if r[0] == "succeeded")
        overlap = any(str(a[2]) > str(b[1]) for a, b in itertools.pairwise(runs))
        if wins > 1 or overlap:
            tally.double_starts += 1
            tally.problems.append(f"job {job_id}: runs {runs}")
    lost = rows(db, "SELECT started_at IS NULL, COUNT(*) FROM runs WHERE state = 'lost' GROUP BY 1")
    for never_started, n in lost:
        if never_started:
            tally.runs_lost_before_start += int(n)
        else:
            tally.runs_lost_after_start += int(n)


def orphans(db: Path) -> int:
    """Live processes whose environment names this sweep's database."""
    marker = f"GRIDWAIT_DB={db}".encode()
    found = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                found += state != "Z"
        except OSError:
            continue
    return found


def sweep(args: argparse.Namespace) -> Tally:
    tally = Tally()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gridwait-sweep-") as tmp:
        env, spec = prepare(Path(tmp))
        db = Path(env["GRIDWAIT_DB"])
        while tally.kills < args.kills:
            one_round(env, spec, args, tally)
        deadline = time.monotonic() + 30
        while orphans(db) and time.monotonic() < deadline:
            time.sleep(0.5)  # a worker of the last round may still be writing its result
        tally.orphans = orphans(db)
        check(db, tally)
    tally.seconds = round(time.monotonic() - began, 1)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=6, help="jobs per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--factor", type=float, default=60.0, help="simulated clock factor")
    args = parser.parse_args()
    print(json.dumps(asdict(sweep(args)), indent=2))


if __name__ == "__main__":
    main()
