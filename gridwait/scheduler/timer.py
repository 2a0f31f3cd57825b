"""APScheduler 3, behind one small adapter: the service's timer and nothing more.

Its job store lives in memory and is rebuilt from the database at start-up; the
database is the truth. Times are domain times (`Clock.now()`); on a simulated clock they
are turned into the real times APScheduler waits for.

Jobs run in lanes, each one thread: `default` (dispatching, following and cancelling
runs), `network` (provider calls, which may take up to their deadline) and `notify`
(notifications, which wait on other people's servers). Jobs of one lane run one at a
time, so a lane never races itself; a slow network job never delays a default one, nor a
slow notification target a provider call. Whatever two jobs of different lanes share,
they must guard themselves.

Shutting down waits for the jobs in flight in every lane first and only then stops
APScheduler: APScheduler's own `shutdown(wait=True)` holds its job-store lock while it
waits, and a job that touches the timer (re-planning reschedules starts) would wait for
that lock forever.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, get_args

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from gridwait.clock import Clock

log = logging.getLogger(__name__)


class _NoSkippedRuns(logging.Filter):
    """APScheduler warns each time a timer job is still running when it is due again;
    with `coalesce` that is expected (the next run catches up), and on a simulated clock
    it flooded the log (155 lines in 3 minutes)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


_SKIPPED = _NoSkippedRuns()
logging.getLogger("apscheduler.scheduler").addFilter(
    _SKIPPED
)  # adding the same one twice is a no-op
Lane = Literal["default", "network", "notify"]
LANES: tuple[Lane, ...] = get_args(Lane)


class Timer:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED)  # once: same object
        self._scheduler = BackgroundScheduler(
            executors={lane: ThreadPoolExecutor(max_workers=1) for lane in LANES},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self._state = threading.Condition()
        self._busy = 0
        self._closing = False

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, wait_s: float = 600.0) -> None:
        """Wait (at most `wait_s`) for the jobs in flight in every lane, run no more, stop."""
        with self._state:
            self._closing = True
            self._state.wait_for(lambda: self._busy == 0, timeout=wait_s)
        if self._scheduler.running:
            # Pause, then take the job-store lock once (get_jobs) so that a round of due
            # jobs in progress ends before shutdown marks the scheduler stopped: stopped
            # mid-round, APScheduler fails to remove a fired one-shot job in its thread.
            self._scheduler.pause()
            self._scheduler.get_jobs()
            self._scheduler.shutdown(wait=False)

    def _guarded(self, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with self._state:
                if self._closing:
                    return
                self._busy += 1
            try:
                action()
            finally:
                with self._state:
                    self._busy -= 1
                    self._state.notify_all()

        return run

    def every(
        self, name: str, domain_seconds: float, action: Callable[[], None], lane: Lane = "default"
    ) -> None:
        """Run `action` every `domain_seconds` of domain time in `lane` (first run at once)."""
        real = max(0.05, domain_seconds / self.clock.factor)
        self._scheduler.add_job(
            self._guarded(action),
            "interval",
            seconds=real,
            id=name,
            replace_existing=True,
            next_run_time=self.clock.real_now(),
            executor=_checked(lane),
        )

    def at(
        self, name: str, when: datetime, action: Callable[[], None], lane: Lane = "default"
    ) -> None:
        """Run `action` once at domain time `when` in `lane` (at once if it has passed)."""
        ahead = (when - self.clock.now()) / self.clock.factor
        run_date = self.clock.real_now() + max(ahead, timedelta(0))
        self._scheduler.add_job(
            self._guarded(action),
            "date",
            run_date=run_date,
            id=name,
            replace_existing=True,
            executor=_checked(lane),
        )

    def cancel(self, name: str) -> None:
        # never added, or a one-shot job that has fired and gone meanwhile
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(name)

    def names(self) -> set[str]:
        return {job.id for job in self._scheduler.get_jobs()}


def _checked(lane: str) -> str:
    # APScheduler would only log a failed executor lookup when the job comes due
    if lane not in LANES:
        raise ValueError(f"timer: unknown lane {lane!r}; expected one of {', '.join(LANES)}")
    return lane
