"""Job lists for backtests: reading and writing JOBS.csv, and generating workloads.

JOBS.csv columns: id,submit_time,duration_minutes,deadline,gpus,interruptible,power_w
(times ISO 8601 in UTC; gpus 0 needs none of the capacity).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gridwait.errors import TraceError

COLUMNS = ("id", "submit_time", "duration_minutes", "deadline", "gpus", "interruptible", "power_w")
KINDS = ("weekday-ml", "nightly")


@dataclass(frozen=True)
class SimJob:
    id: str
    submit: datetime
    duration_s: float
    deadline: datetime
    gpus: int
    interruptible: bool
    power_w: float


def load_jobs(path: Path) -> list[SimJob]:
    """Read JOBS.csv; TraceError (one line, naming the row and column) on a bad value."""
    if not path.is_file():
        raise TraceError(f"{path}: no such jobs file")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TraceError(f"{path.name}: missing column(s) {', '.join(missing)}")
        jobs = [_row(path.name, n, row) for n, row in enumerate(reader, start=2)]
    if not jobs:
        raise TraceError(f"{path.name}: no jobs")
    return sorted(jobs, key=lambda j: (j.submit, j.id))


def _row(name: str, line: int, row: dict[str, str]) -> SimJob:
    def fail(column: str, problem: str) -> TraceError:
        return TraceError(f"{name} line {line}, {column}: {problem} (got {row.get(column)!r})")

    def when(column: str) -> datetime:
        try:
            value = datetime.fromisoformat(row[column].strip())
        except ValueError:
            raise fail(column, "not an ISO 8601 time") from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def number(column: str, kind: type[int] | type[float]) -> float:
        try:
            return kind(row[column].strip())
        except ValueError:
            raise fail(column, f"not {'an integer' if kind is int else 'a number'}") from None

    minutes, gpus, power = (
        number("duration_minutes", float),
        int(number("gpus", int)),
        number("power_w", float),
    )
    flag = row["interruptible"].strip().lower()
    if flag not in ("true", "false", "1", "0", "yes", "no"):
        raise fail("interruptible", "expected true or false")
    submit, deadline = when("submit_time"), when("deadline")
    if not math.isfinite(minutes) or minutes <= 0:
        raise fail("duration_minutes", "must be positive")
    if gpus < 0:
        raise fail("gpus", "must be 0 or more")
    if not math.isfinite(power) or power < 0:
        raise fail("power_w", "must be 0 or more")
    if deadline <= submit:
        raise fail("deadline", "must be after submit_time")
    return SimJob(
        row["id"], submit, minutes * 60, deadline, gpus, flag in ("true", "1", "yes"), power
    )


def write_jobs(jobs: list[SimJob], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for j in jobs:
            writer.writerow(
                [
                    j.id,
                    j.submit.isoformat(),
                    round(j.duration_s / 60, 3),
                    j.deadline.isoformat(),
                    j.gpus,
                    str(j.interruptible).lower(),
                    j.power_w,
                ]
            )


def next_workday_9(when: datetime) -> datetime:
    day = when.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def generate(
    kind: str,
    start: datetime,
    end: datetime,
    seed: int = 0,
    per_day: float = 13.0,
    interruptible_share: float = 0.0,
) -> list[SimJob]:
    """`weekday-ml`: ad hoc fine-tunes submitted on weekdays 09:00-17:00 UTC (Poisson,
    `per_day` a day), 15 minutes to 12 hours (log-normal, median 2 h), 1-4 GPUs, due the
    next workday at 09:00 (the Let's Wait Awhile scenario; a full year is ~3,400 jobs).
    `nightly`: one job a night at 18:00, 30-120 minutes, 1 GPU, due at 08:00."""
    if kind not in KINDS:
        raise TraceError(f"unknown workload {kind!r}: {', '.join(KINDS)}")
    rng = random.Random(seed)
    jobs: list[SimJob] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        if kind == "nightly":
            submit = day + timedelta(hours=18)
            if start <= submit < end:
                minutes = rng.uniform(30, 120)
                jobs.append(
                    SimJob(
                        f"n{len(jobs) + 1}",
                        submit,
                        minutes * 60,
                        day + timedelta(days=1, hours=8),
                        1,
                        rng.random() < interruptible_share,
                        400.0,
                    )
                )
        elif day.weekday() < 5:
            for _ in range(_poisson(rng, per_day)):
                submit = day + timedelta(hours=9) + timedelta(seconds=rng.uniform(0, 8 * 3600))
                if not start <= submit < end:
                    continue
                hours = min(12.0, max(0.25, rng.lognormvariate(math.log(2.0), 0.8)))
                gpus = rng.choices([1, 2, 4], weights=[70, 20, 10])[0]
                jobs.append(
                    SimJob(
                        f"j{len(jobs) + 1}",
                        submit,
                        hours * 3600,
                        next_workday_9(submit),
                        gpus,
                        rng.random() < interruptible_share,
                        300.0 * gpus + 100.0,
                    )
                )
        day += timedelta(days=1)
    ordered = sorted(jobs, key=lambda j: j.submit)
    prefix = "n" if kind == "nightly" else "j"
    return [
        SimJob(
            f"{prefix}{i}", j.submit, j.duration_s, j.deadline, j.gpus, j.interruptible, j.power_w
        )
        for i, j in enumerate(ordered, start=1)
    ]


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
