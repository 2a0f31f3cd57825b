"""A script job: the researcher's own command, run as a child of the worker and measured
with it (the meters follow the worker's whole process tree).

What the child sees (and what gridwait.integrations.transformers.GridwaitCallback reads):
    GRIDWAIT_JOB_ID, GRIDWAIT_RUN_ID      the job and this run
    GRIDWAIT_WORK_DIR                     the job's own folder, the same for every segment
                                          (checkpoints can go there)
    GRIDWAIT_RESUME=1                     a later segment of a suspended job: resume
    GRIDWAIT_GRACE_SECONDS                how long it has to checkpoint after SIGTERM
    GRIDWAIT_RESULT_FILE                  JSON the child writes: tokens_real, tokens_padded,
                                          steps, total_steps, final_loss, examples
    GRIDWAIT_STATUS_FILE                  JSON the worker rewrites at each sample:
                                          energy_kwh (facility), emissions_g (provisional)
    GRIDWAIT_URL, GRIDWAIT_RUN_TOKEN      passed on where the worker reports over HTTP
plus the spec's `env`. `python` at the head of the command is the spec's interpreter (a
venv's bin/ comes first on PATH), by default the service's own.

The end of a segment is SIGTERM (forwarded to the child, which shares the worker's
process group so that a launcher's SIGKILL reaches it too), then SIGKILL after the grace
period. Exit 0 is success, 75 (EX_TEMPFAIL) "suspended, resume me", anything else a
failure, except death by the worker's own SIGTERM (a script stopped before it could
checkpoint, e.g. while loading): that too is "suspended", and the next segment starts it
over.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gridwait.spec import JobSpec
from gridwait.units import J_PER_KWH
from gridwait.workers.reporter import EXIT_CODES, Outcome, RunReporter, Sample, Ticket

log = logging.getLogger(__name__)
GRACE_ENV = "GRIDWAIT_GRACE_SECONDS"
DEFAULT_GRACE_S = 60.0
"""Seconds a script has to checkpoint and exit after SIGTERM (a Trainer step, a save)."""
_PYTHONS = ("python", "python3")
_ENDED_BY_SIGTERM = (-signal.SIGTERM, 128 + signal.SIGTERM)
"""Killed by it, or a shell's exit status for that."""


class ScriptTally(BaseModel):
    """The result file as GridwaitCallback writes it (extra keys are the script's own)."""

    model_config = ConfigDict(extra="ignore")

    tokens_real: int = Field(ge=0)
    tokens_padded: int = Field(ge=0)
    steps: int = Field(ge=0)
    total_steps: int = Field(ge=0)
    final_loss: float | None = None
    examples: int = Field(ge=0)


@dataclass(frozen=True)
class ScriptOutcome:
    state: str
    """succeeded, suspended or failed"""
    error: str | None
    report: dict[str, Any] | None
    """What the child wrote to its result file (the callback's tally), if anything."""


def grace_seconds(environ: dict[str, str]) -> float:
    text = environ.get(GRACE_ENV, "")
    try:
        return max(float(text), 0.0) if text else DEFAULT_GRACE_S
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %g", GRACE_ENV, text, DEFAULT_GRACE_S)
        return DEFAULT_GRACE_S


def files_of(ticket: Ticket) -> tuple[Path, Path]:
    """The run's result and status files, in the job's folder."""
    work = Path(ticket.work_dir)
    return work / f"run-{ticket.run_id}.result.json", work / f"run-{ticket.run_id}.status.json"


def run_script(ticket: Ticket, stop: threading.Event) -> ScriptOutcome:
    """Run the ticket's command to its end, or until `stop`: then SIGTERM, and SIGKILL
    after the grace period."""
    spec = ticket.spec
    result_file, status_file = files_of(ticket)
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.unlink(missing_ok=True)
    env = child_env(ticket, dict(os.environ), result_file, status_file)
    grace = grace_seconds(env)
    argv = command_of(spec)
    log.info("run %s: %s (in %s)", ticket.run_id, argv, spec.workdir)
    try:
        child = subprocess.Popen(argv, cwd=spec.workdir, env=env, stdin=subprocess.DEVNULL)
    except OSError as exc:
        return ScriptOutcome("failed", f"cannot start {argv[0]!r}: {exc.strerror}", None)
    stopped = False
    while child.poll() is None:
        if stop.wait(0.2):
            stopped = True
            _end(child, grace)
            break
    code = child.wait()
    report = read_report(result_file)
    if code == 0:
        return ScriptOutcome("succeeded", None, report)
    if code == EXIT_CODES["suspended"]:
        return ScriptOutcome("suspended", None, report)
    if stopped and code in _ENDED_BY_SIGTERM:
        # stopped before it could checkpoint (loading, say): its next segment starts over
        log.warning("the command ended on SIGTERM without checkpointing (exit 75)")
        return ScriptOutcome("suspended", None, report)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return ScriptOutcome("failed", f"the command {how}", report)


def _end(child: subprocess.Popen[bytes], grace: float) -> None:
    log.info("stopping the command: SIGTERM, then SIGKILL after %g s", grace)
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        log.warning("the command did not exit within %g s of SIGTERM: SIGKILL", grace)
        child.kill()


def command_of(spec: JobSpec) -> list[str]:
    """The argv to start: a shell only when the spec asked for one."""
    command = spec.command
    assert command is not None  # spec.check_kind
    if isinstance(command, str):
        return ["/bin/sh", "-c", command]
    if command[0] in _PYTHONS:
        return [str(interpreter(spec.python)), *command[1:]]
    return list(command)


def interpreter(python: str | None) -> Path:
    """The spec's interpreter: a file, or a venv's bin/python; else the service's."""
    if python is None:
        return Path(sys.executable)
    path = Path(python).expanduser()
    return path / "bin" / "python" if path.is_dir() else path


def child_env(
    ticket: Ticket, environ: dict[str, str], result_file: Path, status_file: Path
) -> dict[str, str]:
    spec = ticket.spec
    env = {**environ, **spec.env}
    python = interpreter(spec.python)
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", os.defpath)])
    if spec.python is not None and Path(spec.python).expanduser().is_dir():
        env["VIRTUAL_ENV"] = str(Path(spec.python).expanduser())
    env.update(
        GRIDWAIT_JOB_ID=str(ticket.job_id),
        GRIDWAIT_RUN_ID=str(ticket.run_id),
        GRIDWAIT_WORK_DIR=ticket.work_dir,
        GRIDWAIT_RESULT_FILE=str(result_file),
        GRIDWAIT_STATUS_FILE=str(status_file),
        GRIDWAIT_GRACE_SECONDS=f"{grace_seconds(env):g}",
    )
    if ticket.segment > 0:
        env["GRIDWAIT_RESUME"] = "1"
    else:
        env.pop("GRIDWAIT_RESUME", None)
    return env


def read_report(path: Path) -> dict[str, Any] | None:
    """The child's last result file, or None (it never wrote one, or wrote nonsense)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the script's result file %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def write_status(path: Path, energy_kwh: float, emissions_g: float | None) -> None:
    """Atomically, so the child never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)  # a remote worker's job folder is new
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"energy_kwh": energy_kwh, "emissions_g": emissions_g}))
    os.replace(temporary, path)


class StatusWriter:
    """A reporter that also tells the child, at each heartbeat, the run's facility energy
    so far and its provisional emissions at the planned window's forecast intensity."""

    def __init__(self, reporter: RunReporter, ticket: Ticket, path: Path) -> None:
        self._reporter, self._path = reporter, path
        self._pue, self._intensity = ticket.pue, ticket.intensity_g_per_kwh

    def start(self, handle: str, host: str) -> Ticket:
        return self._reporter.start(handle, host)

    def heartbeat(self, samples: list[Sample]) -> bool:
        if samples:
            last = samples[-1]
            joules = sum(j or 0.0 for j in (last.gpu_j, last.cpu_j, last.ram_j))
            energy_kwh = joules * self._pue / J_PER_KWH
            grams = None if self._intensity is None else energy_kwh * self._intensity
            try:
                write_status(self._path, energy_kwh, grams)
            except OSError as exc:  # the child's extra; never the run's failure
                log.warning("cannot write %s: %s", self._path, exc)
        return self._reporter.heartbeat(samples)

    def finish(self, outcome: Outcome) -> None:
        self._reporter.finish(outcome)

    def suspended(self, outcome: Outcome) -> None:
        self._reporter.suspended(outcome)
