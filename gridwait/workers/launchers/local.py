"""The local launcher: one subprocess per run on this machine.

`python -m gridwait.workers run --run-id N`, never through a shell, in its own process
group (so a cancel reaches its children), with CUDA_VISIBLE_DEVICES set to the GPUs the
service assigned and its output in a log file per run. Suspend is SIGTERM (the worker
checkpoints and exits), cancel is SIGKILL to the group. After a service restart the
handle (a pid) is followed through /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from gridwait.errors import LaunchError
from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status


class LocalLauncher(Launcher):
    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, request: RunRequest) -> str:
        request.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **request.environment,
            "CUDA_VISIBLE_DEVICES": ",".join(request.gpu_ids),
        }
        command = [self.python, "-m", "gridwait.workers", "run", "--run-id", str(request.run_id)]
        try:
            with request.log_path.open("ab") as log:
                child = subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    start_new_session=True,
                )
        except OSError as exc:
            raise LaunchError(f"cannot start the worker for run {request.run_id}: {exc}") from None
        self._children[child.pid] = child
        return str(child.pid)

    def poll(self, handle: str) -> Status:
        pid = int(handle)
        child = self._children.get(pid)
        if child is not None:
            code = child.poll()
            if code is None:
                return Status(LaunchState.RUNNING)
            del self._children[pid]
            return Status(LaunchState.EXITED, code)
        return Status(LaunchState.RUNNING if _alive(pid) else LaunchState.EXITED)

    def cancel(self, handle: str) -> None:
        self._signal(int(handle), signal.SIGKILL)

    def suspend(self, handle: str) -> None:
        self._signal(int(handle), signal.SIGTERM)

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
            os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    """A process we did not start (a service restart): alive unless gone or a zombie."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z"
