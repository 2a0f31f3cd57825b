"""The Slurm launcher: each run is a batch job of the lab's cluster, submitted ahead.

gridwait decides when; Slurm decides where. A booked run is submitted at once with
`--begin` at its planned start, moved with `scontrol update` when a re-plan moves its
window, and followed with `squeue` (live) and `sacct` (over). The batch script `exec`s
`python -m gridwait.workers run` on the node; the worker reports to the API with the
run's own token, which travels in the job's environment (never in the script, which
sits in a shared folder). Jobs are submitted `--no-requeue`: when a node fails, gridwait
settles the lost run and re-queues the job itself, with a new run and a new token.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from gridwait.errors import LaunchError
from gridwait.slurm_settings import SlurmSettings
from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status
from gridwait.workers.launchers.slurm_cli import SlurmCli, Submission

SCRIPT = """#!/bin/sh
# gridwait run {run_id} of job {job_id}, written by the gridwait service.
# The worker reports to $GRIDWAIT_URL with the run token in its environment.
exec {python} -m gridwait.workers run --run-id {run_id}
"""


class SlurmLauncher(Launcher):
    submits_ahead = True
    accounting_tries = 20
    """Half-second waits `measured_energy` grants a just-finished job's accounting record."""

    def __init__(self, settings: SlurmSettings, cli: SlurmCli | None = None) -> None:
        self.settings = settings
        self.cli = cli or SlurmCli(settings)

    def start(self, request: RunRequest) -> str:
        """Submit the run's batch job to start no earlier than `request.begin`."""
        folder = request.log_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        script = folder / f"run-{request.run_id}.sbatch"
        script.write_text(
            SCRIPT.format(
                run_id=request.run_id,
                job_id=request.job_id,
                python=shlex.quote(self.settings.python),
            )
        )
        script.chmod(0o755)
        partition = self.settings.target()
        limit = partition.time_limit_minutes
        submission = Submission(
            script=script,
            begin=request.begin,
            name=f"gridwait-{request.job_id}",
            output=request.log_path,
            gpus=request.gpus if request.gpus is not None else len(request.gpu_ids),
            partition=self.settings.partition,
            account=partition.account,
            qos=partition.qos,
            time_limit=timedelta(minutes=limit) if limit else None,
            environment=request.environment,
            requeue=False,
        )
        return str(self.cli.submit(submission))

    def poll(self, handle: str) -> Status:
        return self.poll_all([handle])[handle]

    def poll_all(self, handles: Sequence[str]) -> dict[str, Status]:
        """One `squeue` for all of them; accounting only for a job the controller forgot."""
        known = {job.job_id: job for job in self.cli.jobs()} if handles else {}
        out = {}
        for handle in handles:
            job = known.get(int(handle))
            if job is not None:
                out[handle] = job.status()
                continue
            done = self.cli.finished(int(handle))
            out[handle] = Status(LaunchState.EXITED, done.exit_code if done is not None else None)
        return out

    def cancel(self, handle: str) -> None:
        self.cli.cancel(int(handle))

    def suspend(self, handle: str) -> None:
        self.cli.signal(int(handle), "TERM")

    def move(self, handle: str, begin: datetime) -> None:
        self.cli.move(int(handle), begin)

    def check_capacity(self, gpus: int, declared: str | None = None) -> None:
        name = self.settings.partition
        found = self.cli.partition_gpus(name)
        if gpus > found:
            declared = declared or f"[slurm.partitions.{name}]"
            raise LaunchError(
                f"{declared} gpus = {gpus}, but sinfo shows {found} GPU(s) in"
                f" partition {name}: lower it, or declare the nodes' GPUs (Gres) in slurm.conf"
            )

    def load(self) -> str | None:
        waiting = self.cli.waiting_for_resources()
        if not waiting:
            return "Slurm: no job waits for resources; planned starts should hold"
        return (
            f"Slurm: {len(waiting)} job(s) pending for resources (the cluster is busy):"
            " planned starts may slip"
        )

    def measured_energy(self, handle: str) -> tuple[float, str] | None:
        """ConsumedEnergyRaw from accounting. The worker reports before its job is over:
        the record is awaited for up to `accounting_tries` half seconds (called on the service's
        network lane). 0 is what Slurm writes without an energy plugin: not a measurement."""
        done = self.cli.finished(int(handle))
        for _ in range(self.accounting_tries):
            if done is not None:
                break
            time.sleep(0.5)
            done = self.cli.finished(int(handle))
        if done is None or not done.energy_joules:
            return None
        return float(done.energy_joules), "slurm_acct"
