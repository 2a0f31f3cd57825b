"""The scheduler service: plans, dispatches, follows, suspends, reaps and accounts.

- Every poll (domain minutes) it fetches the forecast, re-plans the queue and settles
  provisional emissions. It also re-plans at once when the queue changes.
- A date timer per planned job fires at its planned start and dispatches it: the run is
  claimed atomically in the database, then a launcher starts the worker. A launcher
  that submits ahead (Slurm) gets no timers: each re-plan books, moves and withdraws
  its runs in the engine's own queue instead (`booking`).
- Notices (gridwait/notify) go out on their own lane every tick: what the job events
  since the last pass say, each once; a target that fails is logged and skipped.
- A tick (real seconds) follows the workers: a finished run is accounted and its job
  moves on; an interruptible run is suspended when its planned segment ends; a
  cancelled job's worker is stopped; a worker that died, or whose lease lapsed while
  the service was away, is settled by the reaper (failed or re-queued, partial energy
  kept).
At start-up everything is rebuilt from the database: timers are never the truth.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gridwait.clock import Clock, SystemClock
from gridwait.config import Settings
from gridwait.errors import ConfigError, GridwaitError, LaunchError, ProviderError
from gridwait.grid.base import IntensityProvider
from gridwait.notify.base import Notifier
from gridwait.notify.outbox import Outbox
from gridwait.scheduler.accounting import account, settle
from gridwait.scheduler.booking import Bookings
from gridwait.scheduler.planner import Placement
from gridwait.scheduler.queue_plan import plan_queue
from gridwait.scheduler.targets import poll_runs, target_launchers, target_of
from gridwait.scheduler.timer import Timer
from gridwait.states import FINAL, LIVE_RUNS, REPORTED_RUNS, JobState, RunState, sql_in
from gridwait.store.engine import Store
from gridwait.store.jobs import get_job, jobs_in, plan_segments, transition
from gridwait.store.models import Job, Run
from gridwait.store.runs import claim, end, energy_columns, last_sample, runs_in
from gridwait.units import format_energy, format_mass
from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status

log = logging.getLogger("gridwait.service")
_WAITING = sql_in({JobState.QUEUED, JobState.HELD, JobState.SUSPENDED})
_SIGNATURE = text(
    f"SELECT (SELECT COUNT(*) FROM jobs WHERE state IN {_WAITING}),"
    " (SELECT MAX(updated_at) FROM jobs), (SELECT MAX(updated_at) FROM budgets),"
    " (SELECT COUNT(*) FROM budgets)"
)


class Service:
    def __init__(  # noqa: PLR0913  (its collaborators, each one replaceable in tests)
        self,
        settings: Settings,
        clock: Clock,
        store: Store,
        provider: IntensityProvider,
        launcher: Launcher,
        reporting: IntensityProvider | None = None,
        zones: Mapping[str, IntensityProvider] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """`provider` is planned on; `reporting` (default: the same) is accounted on.
        `launcher` runs local targets' workers; `zones`: each target zone's planning
        provider (default: grid.factory.zone_providers); `notifier` (default: apprise)
        tells owners and the lab what their jobs did."""
        self.settings, self.clock, self.store = settings, clock, store
        if notifier is None:
            from gridwait.notify.apprise_notifier import AppriseNotifier

            notifier = AppriseNotifier(settings.notify.timeout_s)
        self.outbox = Outbox(store, settings.notify, notifier)
        self.provider, self.launcher = provider, launcher
        self.reporting = reporting or provider
        self.timer = Timer(clock)
        self.zone = settings.grid.zone
        if zones is None:
            from gridwait.grid.factory import zone_providers

            zones = zone_providers(settings, clock, store, provider)
        self.zones = dict(zones)
        self.launchers = target_launchers(settings, launcher)
        self._signature: tuple[object, ...] | None = None
        self._suspending: set[int] = set()
        self._planned: dict[int, object] = {}
        self._notes: set[str] = set()
        # at most one launcher submits ahead (one [slurm] cluster): its targets' runs are
        # booked in its queue, the others' started by timers
        ahead = [(t, self.launchers[t.name]) for t in settings.launch_targets()]
        self.ahead = {t.name for t, lau in ahead if lau.submits_ahead}
        engine = next((lau for _, lau in ahead if lau.submits_ahead), launcher)
        self.bookings = Bookings(settings, clock, store, engine, self._settle_lost)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        log.info(
            "service starting: %s, zone %s, %d GPU(s), clock %s",
            self.provider.name,
            self.zone,
            self.settings.gpu_capacity,
            self.clock.describe(),
        )
        if self.ahead and not isinstance(self.clock, SystemClock):
            raise ConfigError(
                f"the {', '.join(sorted(self.ahead))} launch target needs the system clock, not"
                f" {self.clock.describe()}: the engine's begin times are wall-clock times"
            )
        # a cluster with fewer GPUs than the settings claim would leave jobs pending forever
        for target in self.settings.launch_targets():
            declared = f"[[targets]] {target.name}:" if self.settings.targets else None
            self.launchers[target.name].check_capacity(target.gpus, declared)
        self.tick()  # settle what happened while we were away, before planning
        # provider calls (forecasts, actuals for accounting) run on the network lane: a slow
        # provider never delays a dispatch, a cancel or a suspend on the default lane
        poll_s = self.settings.scheduler.poll_minutes * 60
        self.timer.every("poll", poll_s, self._guard(self.poll), lane="network")
        tick_s = self.settings.scheduler.tick_seconds * self.clock.factor
        self.timer.every("tick", tick_s, self._guard(self.tick))
        self.timer.every("notify", tick_s, self._guard(self.notify), lane="notify")
        self.timer.start()

    def stop(self) -> None:
        self.timer.shutdown()
        try:  # what the last tick concluded is told before we go
            self.notify()
        except (GridwaitError, SQLAlchemyError) as exc:  # a busy database must not stop a stop
            log.error("notices not sent before stopping (sent after a restart): %s", exc)
        log.info("service stopped; running workers keep running and are followed after a restart")

    def _guard(self, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                action()
            except GridwaitError as exc:  # a provider or launch problem must not kill the timer
                log.error("%s failed: %s", getattr(action, "__name__", "timer job"), exc)

        return run

    def idle(self) -> bool:
        with self.store.read() as session:
            busy = jobs_in(
                session, (JobState.QUEUED, JobState.PLANNED, JobState.RUNNING, JobState.SUSPENDED)
            )
            live = runs_in(session, LIVE_RUNS)
        return not busy and not live

    def notify(self) -> None:
        self.outbox.deliver(self.clock.now())

    # ---- planning ----------------------------------------------------------------------------

    def poll(self) -> None:
        self.replan()
        settled = pending = 0
        # each zone's runs on its provider; runs in a zone no target has now (the
        # settings changed since) on the main one, which the run's own zone is asked of
        for zone in [*self.zones, None]:
            done, left = settle(
                self.store,
                self._reporting(zone or self.zone),
                zone or self.zone,
                self.clock,
                planning=self.zones.get(zone or self.zone, self.provider),
                footprint=self.settings.footprint,
                only=functools.partial(self._ran_in, zone),
            )
            settled, pending = settled + done, pending + left
        if settled:
            log.info("settled %d provisional run(s); %d still provisional", settled, pending)

    def replan(self) -> None:
        try:
            report = plan_queue(
                self.store, self.settings, self.clock, self.provider, apply=True, zones=self.zones
            )
        except ProviderError as exc:
            log.error("cannot plan: %s", exc)
            return
        for note in report.notes:
            if note not in self._notes:  # said once, not on every poll
                log.warning("%s", note)
        self._notes = set(report.notes)
        # an engine's queue holds its targets' starts, timers the others'
        if self.ahead:
            self.bookings.sync(report.placements, self._booked_ahead)
        self._set_start_timers([p for p in report.placements if not self._booked_ahead(p.target)])
        changed = [p for p in report.placements if self._planned.get(p.job_id) != (p.start, p.late)]
        for p in changed:
            late = f" LATE ({p.reason})" if p.late else f" ({p.reason})" if p.reason else ""
            log.info(
                "job %d planned %s to %s UTC, forecast %s vs %s run now%s",
                p.job_id,
                f"{p.start:%m-%d %H:%M}",
                f"{p.end:%H:%M}",
                format_mass(p.forecast_g),
                format_mass(p.run_now_g),
                late,
            )
        for job_id, reason in report.held.items():
            if self._planned.get(job_id) != "held":
                log.warning("job %d held: %s", job_id, reason)
        self._planned = {p.job_id: (p.start, p.late) for p in report.placements}
        self._planned.update({job_id: "held" for job_id in report.held})
        self._signature = self._queue_signature()

    def _set_start_timers(self, placements: list[Placement]) -> None:
        keep = set()
        for p in placements:
            name = f"start-{p.job_id}"
            keep.add(name)
            self.timer.at(
                name, p.start, self._guard(functools.partial(self.dispatch, p.job_id, p.start))
            )
        for name in self.timer.names() - keep:
            if name.startswith("start-"):
                self.timer.cancel(name)

    def _queue_signature(self) -> tuple[object, ...]:
        """Changes a re-plan must see: submissions, cancels, state moves, budget edits."""
        with self.store.read() as session:
            row = session.connection().execute(_SIGNATURE).one()
        return tuple(row)

    # ---- dispatch ----------------------------------------------------------------------------

    def dispatch(self, job_id: int, planned_start: datetime) -> None:
        now = self.clock.now()
        lease = self.settings.scheduler.lease(self.clock.factor)
        with self.store.read() as session:
            job = session.get(Job, job_id)
            live = list(runs_in(session, LIVE_RUNS))
        if job is None or job.state != JobState.PLANNED:
            return
        target = target_of(self.settings, job.plan_target)
        booked = next((r.id for r in live if r.job_id == job_id), None)
        if target.name in self.ahead or booked is not None:
            # planned on the cluster since (booked there), or its booking there is not
            # withdrawn yet (the next poll does, and sets this timer again): never twice
            log.info("job %d: not started here (booked ahead: run %s)", job_id, booked)
            return
        live = [r for r in live if target_of(self.settings, r.target).name == target.name]
        cpu_jobs = sum(1 for r in live if not r.gpu_ids)
        gpus = self._free_gpus([r.gpu_ids for r in live], job.gpus, target.gpus)
        if gpus is None or (job.gpus == 0 and cpu_jobs >= self.settings.scheduler.cpu_slots):
            log.info(
                "job %d: %s still busy (a run overran its plan); re-planning",
                job_id,
                "its GPUs are" if job.gpus else "the CPU slot is",
            )
            self.replan_soon()
            return
        segment_end = _first_segment_end(job) if job.interruptible else None
        with self.store.write() as session:
            run = claim(session, job_id, planned_start, now, lease, ",".join(gpus), segment_end)
            if run is not None:  # where it runs, in the claim's transaction: accounted there
                run.target, run.zone = target.name, target.zone
                session.add(run)
        if run is None or run.id is None:
            log.info("job %d was claimed elsewhere or re-planned; not starting it", job_id)
            return
        log_path = self.settings.job_dir(job_id) / f"run-{run.id}.log"
        env = {"GRIDWAIT_DB": str(self.settings.db), "GRIDWAIT_CLOCK": self.clock.describe()}
        if os.environ.get("GRIDWAIT_CONFIG"):
            env["GRIDWAIT_CONFIG"] = os.environ["GRIDWAIT_CONFIG"]
        try:
            launcher = self.launchers[target.name]
            handle = launcher.start(RunRequest(run.id, job_id, gpus, log_path, env))
        except LaunchError as exc:
            log.error("%s", exc)
            self._settle_lost(run.id, f"launch failed: {exc}")
            return
        with self.store.write() as session:
            row = session.get(Run, run.id)
            assert row is not None
            row.handle, row.log_path = handle, str(log_path)
            session.add(row)
        log.info(
            "job %d started: run %d on %s%s, log %s",
            job_id,
            run.id,
            f"GPU {gpus}" if gpus else "CPU",
            f" of {target.name} ({target.zone})" if self.settings.several_targets else "",
            log_path,
        )

    def _free_gpus(self, busy: list[str | None], wanted: int, lent: int) -> list[str] | None:
        """`wanted` of the target's `lent` GPUs that no live run holds, or None."""
        taken = {g for ids in busy if ids for g in ids.split(",") if g}
        free = [str(i) for i in range(lent) if str(i) not in taken]
        return free[:wanted] if len(free) >= wanted else None

    def _booked_ahead(self, target: str | None) -> bool:
        """Whether the target (a plan's or a run's; None: the first) books runs ahead."""
        return target_of(self.settings, target).name in self.ahead

    def _launcher(self, run: Run) -> Launcher:
        return self.launchers[target_of(self.settings, run.target).name]

    def _ran_in(self, zone: str | None, run: Run) -> bool:
        """Whether `run` ran in `zone` (None: in a zone no target has now)."""
        ran = run.zone or self.zone
        return ran == zone if zone is not None else ran not in self.zones

    def _reporting(self, zone: str) -> IntensityProvider:
        """The provider a zone's runs are accounted on: the reporting provider when it is
        another signal, else that zone's own."""
        if self.reporting is not self.provider:
            return self.reporting
        return self.zones.get(zone, self.provider)

    # ---- following runs ------------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock.now()
        with self.store.read() as session:
            live = list(runs_in(session, LIVE_RUNS))
            reported = [r for r in runs_in(session, REPORTED_RUNS) if r.accounted_at is None]
            jobs = {r.job_id: get_job(session, r.job_id) for r in live}
        for run in reported:
            conclude = functools.partial(self._conclude, run.id or 0)
            self.timer.at(f"conclude-{run.id}", now, self._guard(conclude), lane="network")
        statuses = poll_runs(self.settings, self.launchers, live)
        for run in live:  # a run whose launcher did not answer is judged at the next tick
            if run.handle is None or (run.id or 0) in statuses:
                self._follow(run, jobs[run.job_id], now, statuses.get(run.id or 0))
        if self._queue_signature() != self._signature:
            self.replan_soon()

    def replan_soon(self) -> None:
        """Re-plan on the network lane (it asks the provider), as soon as it is free."""
        self.timer.at("replan", self.clock.now(), self._guard(self.replan), lane="network")

    def _follow(self, run: Run, job: Job, now: datetime, status: Status | None) -> None:
        run_id = run.id or 0
        if run.handle is not None and status is not None:
            launcher = self._launcher(run)
            if status.state == LaunchState.EXITED:
                with self.store.read() as session:
                    fresh = session.get(Run, run_id)
                if fresh is not None and fresh.state in REPORTED_RUNS:
                    conclude = functools.partial(self._conclude, run_id)
                    self.timer.at(f"conclude-{run_id}", now, self._guard(conclude), lane="network")
                else:
                    self._settle_lost(
                        run_id, f"worker exited (code {status.exit_code}) without reporting"
                    )
                return
            if job.state == JobState.CANCELLED:
                launcher.cancel(run.handle)
                if run.state == RunState.CLAIMED:  # booked ahead: it will never start
                    self._settle_lost(run_id, f"job {job.id} cancelled before it started")
                return
            if run.state == RunState.CLAIMED and launcher.submits_ahead:
                self.bookings.hold(run)  # still queued in the engine, or starting
                return
            if (
                run.segment_end is not None
                and run.segment_end <= now
                and run_id not in self._suspending
            ):
                log.info("run %d: planned segment over; suspending job %d", run_id, job.id)
                self._suspending.add(run_id)
                launcher.suspend(run.handle)
                return
        if run.lease_expires_at is not None and run.lease_expires_at < now:
            if run.handle is not None:
                self._launcher(run).cancel(run.handle)  # hung: make sure it is gone
            self._settle_lost(run_id, "lease lapsed: no heartbeat from the worker")

    def _account(self, run_id: int) -> Run:
        """Accounted on the intensity of the zone where the run really ran."""
        with self.store.read() as session:
            row = session.get(Run, run_id)
            zone = (row.zone if row is not None else None) or self.zone
        return account(
            self.store,
            self._reporting(zone),
            zone,
            self.clock,
            run_id,
            planning=self.zones.get(zone, self.provider),
            footprint=self.settings.footprint,
        )

    def _conclude(self, run_id: int) -> None:
        """A run the worker reported: account it and move its job on."""
        self._suspending.discard(run_id)
        self._engine_energy(run_id)
        row = self._account(run_id)
        now = self.clock.now()
        with self.store.write() as session:
            job = get_job(session, row.job_id)
            if job.state != JobState.RUNNING:
                return  # cancelled meanwhile
            if row.state == RunState.SUCCEEDED:
                transition(session, job, JobState.SUCCEEDED, now, f"run {run_id} finished")
            elif row.state == RunState.SUSPENDED:
                transition(
                    session,
                    job,
                    JobState.SUSPENDED,
                    now,
                    f"run {run_id} checkpointed at step {row.steps}",
                )
            else:
                transition(session, job, JobState.FAILED, now, f"run {run_id}: {row.error}")
        log.info("run %d %s: %s", run_id, row.state, _summary(row))

    def _engine_energy(self, run_id: int) -> None:
        """What the engine measured itself (Slurm's energy accounting), beside ours."""
        with self.store.read() as session:
            row = session.get(Run, run_id)
            handle = row.handle if row is not None and row.started_at is not None else None
        if row is None or handle is None:
            return
        measured = self._launcher(row).measured_energy(handle)
        if measured is None:
            return
        with self.store.write() as session:
            row = session.get(Run, run_id)
            assert row is not None
            row.engine_energy_j, row.engine_energy_method = measured
            session.add(row)

    def _settle_lost(self, run_id: int, reason: str) -> None:
        """The reaper: a run whose worker is gone without a result. Partial energy is kept
        and accounted; the job is re-queued if it has retries left, else failed. A run
        whose worker never started (the service died between claim and launch) was no
        attempt of the job: it is re-queued without spending a retry."""
        now = self.clock.now()
        with self.store.write() as session:
            row = session.get(Run, run_id)
            if row is None:
                return
            started = row.started_at is not None
            values: dict[str, object] = {"ended_at": row.heartbeat_at or now, "error": reason}
            last = last_sample(session, run_id)
            if last is not None:  # what it measured before it was lost is kept
                values.update(energy_columns(last, self.settings.energy.pue))
                values["duration_s"] = last.elapsed_s
            if not end(session, run_id, RunState.LOST, values):
                return  # the worker reported meanwhile, or it was settled already
        self._suspending.discard(run_id)
        self._engine_energy(run_id)
        row = self._account(run_id)
        with self.store.write() as session:
            job = get_job(session, row.job_id)
            if job.state in FINAL or job.state != JobState.RUNNING:
                return
            if not started:
                job.attempts = max(0, job.attempts - 1)
                transition(
                    session,
                    job,
                    JobState.QUEUED,
                    now,
                    f"run {run_id} never started ({reason}); not counted as an attempt",
                )
            elif job.attempts <= job.max_retries:
                transition(
                    session,
                    job,
                    JobState.QUEUED,
                    now,
                    f"run {run_id} lost ({reason}); retry {job.attempts}/{job.max_retries}",
                )
            else:
                transition(
                    session,
                    job,
                    JobState.FAILED,
                    now,
                    f"run {run_id} lost ({reason}); no retries left",
                )
        log.warning("run %d lost: %s", run_id, reason)


def _first_segment_end(job: Job) -> datetime | None:
    segments = plan_segments(job)
    return segments[0][1] if len(segments) > 1 else None


def _summary(run: Run) -> str:
    parts = [f"{format_energy(run.energy_facility_j)} ({run.cpu_method or '-'} CPU)"]
    if run.emissions_g is not None:
        parts.append(
            f"{format_mass(run.emissions_g)}{' provisional' if run.emissions_provisional else ''}"
        )
    if run.saving_g is not None:
        parts.append(f"saved {format_mass(run.saving_g)} vs run-now")
    return ", ".join(parts)
