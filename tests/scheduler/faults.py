"""Faults injected from the tests, never compiled into the service:
`python -m tests.scheduler.faults after-claim -- ARGS` runs `gridwait ARGS` with a
launcher that kills the whole service (exit 137, as kill -9 would) at the moment it is
asked to start a worker: after the run was claimed, before any worker exists."""

from __future__ import annotations

import os
import sys

from gridwait.cli import main
from gridwait.workers.launchers.base import RunRequest
from gridwait.workers.launchers.local import LocalLauncher


def _die_instead_of_launching(self: LocalLauncher, request: RunRequest) -> str:
    del self
    sys.stderr.write(f"fault: the service dies after claiming run {request.run_id}\n")
    sys.stderr.flush()
    os._exit(137)


FAULTS = {"after-claim": _die_instead_of_launching}

if __name__ == "__main__":
    fault, separator, *argv = sys.argv[1:]
    assert separator == "--", "usage: faults.py FAULT -- GRIDWAIT-ARGS"
    LocalLauncher.start = FAULTS[fault]  # type: ignore[method-assign]
    sys.exit(main(argv))
