"""The sampler thread: every N real seconds it reads the run's meter and sends the
cumulative joules (with the method per component) as a heartbeat through the run's
reporter, which renews the lease. If the run is no longer ours (the reaper settled it),
it tells the worker to stop."""

from __future__ import annotations

import logging
import threading

from gridwait.clock import Clock
from gridwait.workers.meters import Measurement, RunMeter
from gridwait.workers.reporter import RunReporter, Sample

log = logging.getLogger(__name__)


class Sampler:
    def __init__(
        self,
        meter: RunMeter,
        reporter: RunReporter,
        clock: Clock,
        period_s: float,
        lost: threading.Event,
    ) -> None:
        self.meter, self.reporter, self.clock = meter, reporter, clock
        self.period_s, self.lost = period_s, lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)
        self._t0 = 0.0
        self.last: Sample | None = None
        self.count = 0
        self.seconds_spent = 0.0
        """Real seconds spent reading meters and reporting samples (the overhead)."""

    def start(self) -> None:
        self.meter.start()
        self._t0 = self.clock.monotonic()
        self.sample()
        self._thread.start()

    def sample(self) -> Sample:
        began = self.clock.monotonic()
        sample = self.as_sample(self.meter.read())
        if not self.reporter.heartbeat([sample]):
            log.warning("the run is no longer ours (settled by the reaper); stopping")
            self.lost.set()
        self.last = sample
        self.count += 1
        self.seconds_spent += self.clock.monotonic() - began
        return sample

    def as_sample(self, m: Measurement) -> Sample:
        return Sample(
            at=self.clock.now(),
            elapsed_s=m.mono_s - self._t0,
            gpu_j=m.gpu_j,
            cpu_j=m.cpu_j,
            ram_j=m.ram_j,
            gpu_method=m.gpu_method,
            cpu_method=m.cpu_method,
            ram_method=m.ram_method,
        )

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def stop(self) -> Sample:
        """Stop the thread and take the final sample."""
        self._stop.set()
        self._thread.join()
        final = self.sample()
        self.meter.close()
        return final
