"""Shared fixtures: an isolated settings file and database per test, and a CLI runner."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from benchmarks.shared import shared_dir
from gridwait.cli import main
from gridwait.spec import JobSpec
from tests.slurm_cluster import missing, start_cluster

# Every `gridwait run` a test starts (in process or as a child) serves its API on a free
# port: two services at once must not fight over the default 8787.
os.environ.setdefault("GRIDWAIT_API__LISTEN", "127.0.0.1:0")

SHARED = shared_dir()  # ../shared, or where GRIDWAIT_SHARED says
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class CliResult:
    code: int
    out: str
    err: str


Cli = Callable[..., CliResult]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """GRIDWAIT_DB and GRIDWAIT_CONFIG inside tmp_path, no site settings file; returns the
    database path."""
    for name in (
        "GRIDWAIT_ELECTRICITYMAPS_TOKEN",
        "GRIDWAIT_WATTTIME_USER",
        "GRIDWAIT_WATTTIME_PASSWORD",
        "ELECTRICITYMAPS_API_TOKEN",  # the providers' own names are read too
        "WATTTIME_USER",
        "WATTTIME_PASSWORD",
        "GRIDWAIT_URL",  # a developer's remote service stays out too
        "GRIDWAIT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRIDWAIT_SITE_CONFIG", "")  # the machine's /etc/gridwait stays out
    db = tmp_path / "gridwait.db"
    settings = tmp_path / "gridwait.toml"
    settings.touch()  # a GRIDWAIT_CONFIG naming a missing file is refused
    monkeypatch.setenv("GRIDWAIT_DB", str(db))
    monkeypatch.setenv("GRIDWAIT_CONFIG", str(settings))
    return db


@pytest.fixture
def cli(env: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "reviews.csv"
    path.parent.mkdir()
    rows = ["text,label"] + [
        f"review number {i} was {'good' if i % 2 else 'bad'},{i % 2}" for i in range(40)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def write_spec(directory: Path, body: str, name: str = "job.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(body))
    return path


def minilm_spec(name: str, deadline: str, dataset: Path) -> JobSpec:
    """A spec fine-tuning the built-in MiniLM on `dataset`, due `deadline` after submission."""
    return JobSpec.model_validate(
        {
            "name": name,
            "model": "builtin:minilm",
            "deadline": deadline,
            "dataset": {"path": str(dataset)},
        }
    )


@pytest.fixture
def spec_file(tmp_path: Path, dataset: Path) -> Path:
    return write_spec(
        tmp_path,
        """
        name = "reviews"
        model = "builtin:minilm"
        epochs = 1
        batch_size = 8
        max_length = 32
        deadline = "36h"
        owner = "alice"
        project = "nlp"

        [dataset]
        path = "data/reviews.csv"
        """,
    )


def count_rows(db: Path, table: str = "jobs") -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
        ).fetchone()
        return 0 if not exists else int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "gridwait" / "data" / "demo_reviews.csv"


def run_benchmark(
    module: str, *args: str, timeout: float = 180, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m benchmarks.<module> ARGS` from the repository root, with no GRIDWAIT_
    variable of this process (plus `env`); the exit status is left to the caller."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWAIT_")}
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        check=False,
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Closable(Protocol):
    """A test's HTTP server with a `closing` event its handlers wait on."""

    closing: threading.Event

    def serve_forever(self) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...


S = TypeVar("S", bound=Closable)


def serve_in_thread(server: S) -> Iterator[S]:
    """For a fixture to `yield from`: `server` serving on a daemon thread; afterwards its
    `closing` event is set (a stalled handler gives up) and it is shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small BERT classifier and WordPiece tokenizer built locally from the demo texts."""
    from gridwait.workers.tiny import build_model

    with DEMO.open() as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return build_model(texts, tmp_path_factory.mktemp("tiny-bert"), size="tiny")


@pytest.fixture(scope="session")
def slurm_conf() -> Iterator[Path]:
    """A one-node Slurm cluster of real daemons for the session; its slurm.conf. Skipped
    only where Slurm is not installed (or not as root); a cluster that will not start
    fails with the daemons' logs."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster.conf
    finally:
        cluster.stop()
