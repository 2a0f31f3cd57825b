"""`python -m gridwait.workers run --run-id N`: the worker process a launcher starts.

This is the composition root of a worker: it picks the run's reporter and hands it to
`run_worker`, which knows nothing else. With GRIDWAIT_URL and GRIDWAIT_RUN_TOKEN (a node
without the database) it reports over HTTP; on the scheduler host the reporter calls the
use cases in-process (settings from GRIDWAIT_DB and GRIDWAIT_CONFIG as the launcher
passes them, the clock from GRIDWAIT_CLOCK so a simulated clock is shared with the
service)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from gridwait.clock import parse_clock
from gridwait.config import load_settings
from gridwait.errors import GridwaitError
from gridwait.workers.runner import run_worker

if TYPE_CHECKING:
    from gridwait.workers.http_reporter import HttpReporter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gridwait.workers")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one claimed run")
    run.add_argument("--run-id", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        clock = parse_clock(os.environ.get("GRIDWAIT_CLOCK", "system"))
        url, token = os.environ.get("GRIDWAIT_URL"), os.environ.get("GRIDWAIT_RUN_TOKEN")
        if url and token:  # a node without the database reports over HTTP
            return run_worker(_http_reporter(url, args.run_id, token), clock)
        from gridwait.app.deps import Deps
        from gridwait.app.runs import LocalReporter

        deps = Deps(load_settings(), clock)
        try:
            return run_worker(LocalReporter(deps, args.run_id), clock)
        finally:
            deps.close()
    except GridwaitError as exc:
        logging.getLogger("gridwait.workers").error("%s", exc)
        return 1


def _http_reporter(url: str, run_id: int, token: str) -> HttpReporter:
    """Spooled samples live in $GRIDWAIT_SPOOL_DIR (default: the temporary folder)."""
    from gridwait.workers.http_reporter import HttpReporter

    folder = Path(os.environ.get("GRIDWAIT_SPOOL_DIR") or tempfile.gettempdir())
    return HttpReporter(url, run_id, token, folder / "gridwait-spool" / f"run-{run_id}.jsonl")


if __name__ == "__main__":
    sys.exit(main())
