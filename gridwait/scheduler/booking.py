"""Runs booked ahead in an engine that keeps its own queue (Slurm).

With such a launcher (`submits_ahead`) the service sets no start timers: every re-plan
books each placed job that has no live run yet (a `claimed` run, its own token, the
engine's job with its begin time), moves the engine's begin time when the plan moved,
and withdraws a booking whose job is no longer planned, or now planned on another
launch target (a local box beside the cluster). The engine starts the worker;
the worker's `start` makes the job running. While the engine holds a booked run, its
lease is renewed here: a busy cluster starting it late is not a lost worker.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from gridwait.clock import Clock
from gridwait.config import Settings
from gridwait.errors import LaunchError
from gridwait.scheduler.planner import Placement
from gridwait.states import JobState, RunState
from gridwait.store.engine import Store
from gridwait.store.jobs import get_job, plan_segments
from gridwait.store.models import Job, Run
from gridwait.store.runs import book, runs_in, set_token
from gridwait.store.users import token_hash
from gridwait.workers.launchers.base import Launcher, RunRequest

log = logging.getLogger("gridwait.service")
RUN_TOKEN_PREFIX = "gwr_"
UNPLANNED = frozenset({JobState.QUEUED, JobState.HELD})
"""A booked job in one of these states was taken out of the plan: its booking goes."""


class Bookings:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        store: Store,
        launcher: Launcher,
        lost: Callable[[int, str], None],
    ) -> None:
        """`lost(run_id, reason)` settles a booked run that will never run (the reaper)."""
        self.settings, self.clock, self.store, self.launcher = settings, clock, store, launcher
        self.lost = lost
        self._begins: dict[int, datetime] = {}
        """run id -> the begin time the engine has (after a restart: moved once more)."""

    def sync(self, placements: list[Placement], ours: Callable[[str | None], bool]) -> None:
        """Book, move and withdraw so that the engine's queue matches the plan; `ours(target
        name)` says which placements and runs are this engine's (with several launch
        targets, the others are another launcher's)."""
        elsewhere = {p.job_id: p for p in placements if not ours(p.target)}
        placements = [p for p in placements if ours(p.target)]
        with self.store.read() as session:
            claimed = runs_in(session, (RunState.CLAIMED,))
            booked = {r.job_id: r for r in claimed if r.handle and ours(r.target)}
            states = {job_id: get_job(session, job_id).state for job_id in booked}
        placed = {p.job_id for p in placements}
        for job_id, run in booked.items():
            if job_id in placed:
                continue
            if states[job_id] in UNPLANNED:
                self._withdraw(run, f"job {job_id} is {states[job_id]}: booking withdrawn")
            elif job_id in elsewhere and states[job_id] == JobState.PLANNED:
                # re-planned onto another target (its start timer runs it there): left
                # booked, the engine would start it a second time
                moved = elsewhere[job_id]
                self._withdraw(
                    run,
                    f"job {job_id} re-planned on {moved.target} ({moved.zone}): booking withdrawn",
                )
        for p in placements:
            mine = booked.get(p.job_id)
            if mine is None:
                self._book(p)
            elif self._begins.get(mine.id or 0) != p.start:
                self._move(mine, p.start)

    def hold(self, run: Run) -> None:
        """The engine still holds this booked run (pending, or starting): keep its lease."""
        now, lease = self.clock.now(), self.settings.scheduler.lease(self.clock.factor)
        if run.lease_expires_at is not None and run.lease_expires_at - now > lease / 2:
            return  # not every tick needs a write
        until = now + lease
        with self.store.write() as session:
            row = session.get(Run, run.id)
            if row is not None and row.state == RunState.CLAIMED:
                current = row.lease_expires_at
                row.lease_expires_at = until if current is None else max(current, until)
                session.add(row)

    def _book(self, p: Placement) -> None:
        now = self.clock.now()
        lease = self.settings.scheduler.lease(self.clock.factor)
        secret = RUN_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as session:
            job = session.get(Job, p.job_id)
            segment_end = _first_segment_end(job) if job is not None else None
            run = book(session, p.job_id, now, p.start + lease, segment_end)
            if run is None or run.id is None or job is None:
                return
            set_token(session, run.id, token_hash(secret))
            run.target, run.zone = p.target, p.zone  # where it runs: accounted there
            session.add(run)
            run_id, gpus = run.id, job.gpus
        log_path = self.settings.job_dir(p.job_id) / f"run-{run_id}.log"
        env = {
            "GRIDWAIT_URL": self.settings.slurm.api_url,
            "GRIDWAIT_RUN_TOKEN": secret,
            "GRIDWAIT_CLOCK": self.clock.describe(),
        }
        request = RunRequest(run_id, p.job_id, [], log_path, env, begin=p.start, gpus=gpus)
        try:
            handle = self.launcher.start(request)
        except LaunchError as exc:
            log.error("job %d: cannot book run %d: %s", p.job_id, run_id, exc)
            self.lost(run_id, f"submission failed: {exc}")
            return
        with self.store.write() as session:
            row = session.get(Run, run_id)
            assert row is not None
            row.handle, row.log_path = handle, str(log_path)
            session.add(row)
        self._begins[run_id] = p.start
        log.info(
            "job %d booked: run %d is engine job %s, to begin %s UTC",
            p.job_id,
            run_id,
            handle,
            f"{p.start:%m-%d %H:%M:%S}",
        )

    def _move(self, run: Run, begin: datetime) -> None:
        assert run.id is not None and run.handle is not None
        try:
            self.launcher.move(run.handle, begin)
        except LaunchError as exc:  # it started meanwhile: the worker is on its way
            log.info("run %d: begin not moved (%s)", run.id, exc)
            return
        lease = self.settings.scheduler.lease(self.clock.factor)
        with self.store.write() as session:
            row = session.get(Run, run.id)
            if row is not None and row.state == RunState.CLAIMED:
                row.lease_expires_at = begin + lease
                session.add(row)
        self._begins[run.id] = begin
        log.info(
            "job %d: engine job %s moved to begin %s UTC",
            run.job_id,
            run.handle,
            f"{begin:%m-%d %H:%M:%S}",
        )

    def _withdraw(self, run: Run, reason: str) -> None:
        assert run.id is not None and run.handle is not None
        try:
            self.launcher.cancel(run.handle)
        except LaunchError as exc:
            log.error("run %d: cannot withdraw engine job %s: %s", run.id, run.handle, exc)
            return
        self._begins.pop(run.id, None)
        self.lost(run.id, reason)


def _first_segment_end(job: Job) -> datetime | None:
    if not job.interruptible:
        return None
    segments = plan_segments(job)
    return segments[0][1] if len(segments) > 1 else None
