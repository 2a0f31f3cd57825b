"""Every call gridwait makes to Slurm's command-line tools, in one place.

pyslurm does not build against Slurm 22.05, so gridwait drives `sbatch`, `scontrol`,
`scancel`, `squeue --json` and `sacct` as subprocesses: an argument list, never a shell,
a timeout on every call, and `SLURM_CONF` from `SlurmSettings` (never read at import).
A command that fails raises `SlurmError` naming the command and Slurm's first line.

Times. `sbatch --begin` and `scontrol update StartTime=` take a wall-clock time without a
zone (a "Z" or "+00:00" suffix is refused) and read it in the *client's* local zone. Every
command therefore runs with TZ=UTC and is given UTC. `squeue --json` answers epoch
seconds, which need no zone. The job-completion file holds the controller's local times;
they are not read here.

Verified on Slurm 22.05.8 (Debian 12): `squeue --json` ignores `--jobs`, so one job is
picked out of the list here; its `exit_code` is a wait status (exit 3 is 768).
`scancel --signal=TERM` alone does not reach the batch script: `--full` signals the
script and its children, as the local launcher signals the worker's process group. The
batch script must `exec` the worker (a shell without a trap would die of the TERM first);
the worker checkpoints and exits 75, and Slurm calls the job FAILED with exit code 75.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gridwait.errors import SlurmError
from gridwait.slurm_settings import SlurmSettings
from gridwait.states import RunState
from gridwait.workers.launchers.base import LaunchState, Status

SUSPENDED_EXIT = 75
"""The worker's exit code for "checkpointed, resume me" (EX_TEMPFAIL)."""

LIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
"""Slurm states of a job that is not over yet (it may still start or is running)."""

_RUN_STATES: dict[str, RunState] = {
    "PENDING": RunState.CLAIMED,
    "COMPLETED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "TIMEOUT": RunState.FAILED,
    "OUT_OF_MEMORY": RunState.FAILED,
    "DEADLINE": RunState.FAILED,
    "CANCELLED": RunState.LOST,
    "NODE_FAIL": RunState.LOST,
    "PREEMPTED": RunState.LOST,
    "BOOT_FAIL": RunState.LOST,
}


def run_state(slurm_state: str, exit_code: int | None = None) -> RunState:
    """The run state a Slurm job state stands for.

    PENDING is a claimed run whose worker has not started; every other live state is
    running. COMPLETED succeeded; FAILED succeeded in suspending when the worker exited
    75, else failed, as did TIMEOUT (the time limit killed it). CANCELLED, NODE_FAIL and
    PREEMPTED ended the worker from outside: the run is lost, as the local launcher's
    killed worker is. What the worker itself reported, where it did, wins over this.
    """
    state = _base_state(slurm_state)
    if state == "FAILED" and exit_code == SUSPENDED_EXIT:
        return RunState.SUSPENDED
    if state in _RUN_STATES:
        return _RUN_STATES[state]
    if state in LIVE_STATES:
        return RunState.RUNNING
    return RunState.LOST  # a state this module does not know ended the job somehow


def _base_state(slurm_state: str) -> str:
    """The state's name: sacct writes "CANCELLED by 0" where squeue says CANCELLED."""
    words = slurm_state.split()
    return words[0].upper() if words else ""


@dataclass(frozen=True)
class Submission:
    script: Path
    begin: datetime | None
    """The planned start, timezone-aware; Slurm starts the job no earlier (None: now)."""
    name: str
    output: Path
    """stdout and stderr of the batch script."""
    gpus: int = 0
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: timedelta | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    """Added to the caller's environment, which the job inherits (with TZ=UTC)."""
    requeue: bool = True
    """False: Slurm never re-runs the job itself (after a node failure); gridwait does."""


@dataclass(frozen=True)
class SlurmJob:
    """One job as `squeue --json` shows it. Times are aware UTC, None where Slurm has none."""

    job_id: int
    name: str
    state: str
    reason: str
    begin: datetime | None
    """When the job becomes eligible to start (`--begin`)."""
    start: datetime | None
    """When it started, or Slurm's expected start while it pends."""
    end: datetime | None
    """When it ended; None while it is live."""
    exit_code: int | None
    """The batch script's exit code once it ended; None if a signal ended it."""
    signal: int | None

    @property
    def live(self) -> bool:
        return _base_state(self.state) in LIVE_STATES

    def run_state(self) -> RunState:
        return run_state(self.state, self.exit_code)

    def status(self) -> Status:
        """The job as the Launcher contract reports a worker."""
        if self.live:
            return Status(LaunchState.RUNNING)
        return Status(LaunchState.EXITED, self.exit_code)


@dataclass(frozen=True)
class Accounting:
    """A finished job as `sacct` records it."""

    job_id: int
    state: str
    exit_code: int | None
    signal: int | None
    energy_joules: int | None
    """ConsumedEnergyRaw, where Slurm's energy accounting measured it."""

    def run_state(self) -> RunState:
        return run_state(self.state, self.exit_code)


class SlurmCli:
    def __init__(self, settings: SlurmSettings | None = None) -> None:
        self.settings = settings or SlurmSettings()

    def submit(self, submission: Submission) -> int:
        """Submit the batch script to start no earlier than `submission.begin`; its job id."""
        out = self._run(sbatch_args(submission), submission.environment)
        try:
            return int(out.strip().split(";")[0])
        except ValueError:
            raise SlurmError("sbatch", f"no job id in its answer {out.strip()!r}") from None

    def move(self, job_id: int, start: datetime) -> None:
        """Make a pending job start no earlier than `start` (earlier or later than before)."""
        self._run(["scontrol", "update", f"JobId={job_id}", f"StartTime={slurm_time(start)}"])

    def cancel(self, job_id: int) -> None:
        """End the job now, pending or running. A job already over is not an error."""
        self._run(["scancel", str(job_id)])

    def signal(self, job_id: int, name: str = "TERM") -> bool:
        """Send SIG`name` to the running batch script and its children; False, sending
        nothing, when the job does not run: pending (`scancel --signal` would wait for it
        to start), over, or forgotten."""
        job = self.job(job_id)
        if job is None or _base_state(job.state) != "RUNNING":
            return False
        try:
            self._run(["scancel", "--full", f"--signal={name}", str(job_id)])
        except SlurmError as exc:  # it ended since
            if "Invalid job id" in str(exc) or "already completing" in str(exc):
                return False
            raise
        return True

    def jobs(self) -> list[SlurmJob]:
        """Every job the controller knows (finished ones for MinJobAge seconds)."""
        out = self._run(["squeue", "--json"])
        try:
            data = json.loads(out)
            return [_squeue_job(item) for item in data["jobs"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise SlurmError("squeue --json", f"unreadable answer: {exc}") from None

    def job(self, job_id: int) -> SlurmJob | None:
        """One job, or None once the controller has forgotten it (see `finished`)."""
        # squeue --json ignores --jobs in 22.05: the whole list comes back either way
        return next((j for j in self.jobs() if j.job_id == job_id), None)

    def finished(self, job_id: int) -> Accounting | None:
        """How a job ended, from accounting; None if it has no record (yet)."""
        source = ["-c"] if self.settings.accounting == "jobcomp" else ["-X"]
        fields = "JobID,State,ExitCode,ConsumedEnergyRaw"
        command = ["sacct", *source, "--parsable2", "--noheader", f"--format={fields}"]
        out = self._run([*command, f"--jobs={job_id}"])
        records = [_sacct_row(line) for line in out.splitlines() if line.strip()]
        mine = [r for r in records if r is not None and r.job_id == job_id]
        return mine[-1] if mine else None  # a requeued job's last record

    def partition_gpus(self, partition: str) -> int:
        """GPUs the partition's nodes have, as `sinfo` counts their gres; SlurmError if
        Slurm does not know the partition."""
        out = self._run(
            ["sinfo", "--noheader", "--Node", f"--partition={partition}", "--format=%N %G"]
        )
        nodes = dict(line.split(maxsplit=1) for line in out.splitlines() if len(line.split()) == 2)
        if not nodes:
            raise SlurmError("sinfo", f"no nodes in partition {partition!r}")
        return sum(gres_gpus(gres) for gres in nodes.values())

    def waiting_for_resources(self) -> list[SlurmJob]:
        """Jobs that could start but wait for nodes (the cluster is busy), anyone's."""
        return [j for j in self.jobs() if _base_state(j.state) == "PENDING" and j.reason in BUSY]

    def _run(self, args: Sequence[str], extra_env: Mapping[str, str] | None = None) -> str:
        env = {**_inherited(), **(extra_env or {}), "TZ": "UTC"}
        if self.settings.conf is not None:
            env["SLURM_CONF"] = str(self.settings.conf)
        command = " ".join(args[:2]) if args[0] == "scontrol" else args[0]
        try:
            done = subprocess.run(
                list(args),
                check=False,
                capture_output=True,
                text=True,
                timeout=self.settings.timeout,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise SlurmError(command, f"{args[0]} is not installed (not on PATH)") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(command, f"no answer in {self.settings.timeout:g} s") from None
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise SlurmError(
                command, _reason(said[0], args[0]) if said else f"exit {done.returncode}"
            )
        return done.stdout


BUSY = frozenset({"Resources", "Priority"})
"""squeue reasons of a job that is eligible but finds no free nodes (or waits behind one
that does not)."""


def gres_gpus(gres: str) -> int:
    """GPUs in a node's gres as sinfo prints it: "gpu:4", "gpu:a100:4(S:0-1)", "(null)"."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu" and len(parts) > 1 and parts[-1].isdigit():
            total += int(parts[-1])
    return total


_SECRET = re.compile(r"TOKEN|PASSWORD|SECRET|_KEY$|^KEY", re.IGNORECASE)
"""Names of variables a job must not inherit: a Slurm job keeps its submitter's
environment (sbatch --export=ALL), on the nodes and in the controller's state files."""


def _inherited() -> dict[str, str]:
    """This process's environment without its secrets (provider tokens, a user's API
    token): the run's own token is the only one a worker gets."""
    return {name: value for name, value in os.environ.items() if not _SECRET.search(name)}


def _reason(line: str, tool: str) -> str:
    """Slurm's line without the tool's own "sbatch: error: " in front."""
    for prefix in (f"{tool}: ", "error: "):
        line = line.removeprefix(prefix)
    return line


def slurm_time(moment: datetime) -> str:
    """`moment` as Slurm reads it under TZ=UTC: UTC, no zone, rounded up to the second
    (a job never starts before the planned time)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a Slurm time must be timezone-aware, not {moment.isoformat()}")
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%S")


def sbatch_args(submission: Submission) -> list[str]:
    """The `sbatch` command line for a submission (run with TZ=UTC)."""
    s = submission
    args = ["sbatch", "--parsable"]
    if s.begin is not None:
        args.append(f"--begin={slurm_time(s.begin)}")
    args += [f"--job-name={s.name}", f"--output={s.output}"]
    if not s.requeue:
        args.append("--no-requeue")
    if s.gpus:
        args.append(f"--gpus={s.gpus}")
    options = {"partition": s.partition, "account": s.account, "qos": s.qos}
    args.extend(f"--{option}={value}" for option, value in options.items() if value)
    if s.time_limit is not None:
        args.append(f"--time={_duration(s.time_limit)}")
    args.append(str(s.script))
    return args


def _duration(limit: timedelta) -> str:
    """days-hours:minutes:seconds, rounded up to the second."""
    seconds = max(1, math.ceil(limit.total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{days}-{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def _squeue_job(item: Mapping[str, Any]) -> SlurmJob:
    state = item["job_state"]
    if isinstance(state, list):  # a list of flags from 23.02 on
        state = state[0] if state else ""
    live = _base_state(str(state)) in LIVE_STATES
    exit_code, signal = (None, None) if live else _wait_status(item.get("exit_code"))
    return SlurmJob(
        job_id=int(item["job_id"]),
        name=str(item.get("name", "")),
        state=str(state),
        reason=str(item.get("state_reason", "")),
        begin=_epoch(item.get("eligible_time")),
        start=_epoch(item.get("start_time")),
        end=None if live else _epoch(item.get("end_time")),
        exit_code=exit_code,
        signal=signal,
    )


def _epoch(value: object) -> datetime | None:
    """Epoch seconds (22.05), or {"set", "infinite", "number"} (23.02 on); 0 is unset."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite", False):
            return None
        value = value.get("number")
    if not isinstance(value, int) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def _wait_status(value: object) -> tuple[int | None, int | None]:
    """(exit code, signal) from squeue's exit_code: a wait status in 22.05."""
    if isinstance(value, Mapping):  # 23.02 on: {"return_code": ..., "signal": ...}
        code, sig = _number(value.get("return_code")), _number(value.get("signal", {}))
        return (None, sig) if sig else (code, None)
    if not isinstance(value, int):
        return None, None
    if value & 0x7F:
        return None, value & 0x7F
    return (value >> 8) & 0xFF, None


def _number(value: object) -> int | None:
    if isinstance(value, Mapping):
        value = value.get("number", value.get("signal_id"))
    return value if isinstance(value, int) else None


def _sacct_row(line: str) -> Accounting | None:
    """A `JobID|State|ExitCode|ConsumedEnergyRaw` row; None for a step's (`12.batch`)."""
    parts = line.split("|")
    if len(parts) != 4 or not parts[0].isdigit():
        return None
    job_id, state, exit_text, energy = parts
    code, _, sig = exit_text.partition(":")
    signal = int(sig) if sig.isdigit() and int(sig) else None
    return Accounting(
        job_id=int(job_id),
        state=_base_state(state),
        exit_code=None if signal or not code.isdigit() else int(code),
        signal=signal,
        energy_joules=int(energy) if energy.strip().isdigit() else None,
    )
