"""The sampler thread: every N real seconds it reads the run's meter and writes the
cumulative joules (with the method per component) and a heartbeat that renews the
run's lease, in one short transaction. If the run is no longer ours (the reaper settled
it), it tells the worker to stop."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from gridwait.clock import Clock
from gridwait.store.engine import Store
from gridwait.store.models import EnergySample
from gridwait.store.runs import heartbeat
from gridwait.workers.meters import Measurement, RunMeter

log = logging.getLogger(__name__)


class Sampler:
    def __init__(
        self,
        meter: RunMeter,
        store: Store,
        run_id: int,
        clock: Clock,
        period_s: float,
        lease: timedelta,
        lost: threading.Event,
    ) -> None:
        self.meter, self.store, self.run_id, self.clock = meter, store, run_id, clock
        self.period_s, self.lease, self.lost = period_s, lease, lost
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{run_id}", daemon=True)
        self._t0 = 0.0
        self.last: Measurement | None = None
        self.count = 0
        self.seconds_spent = 0.0
        """Real seconds spent reading meters and writing samples (the overhead)."""

    def start(self) -> None:
        self.meter.start()
        self._t0 = self.clock.monotonic()
        self.sample()
        self._thread.start()

    def sample(self) -> Measurement:
        began = self.clock.monotonic()
        m = self.meter.read()
        row = EnergySample(
            run_id=self.run_id,
            at=self.clock.now(),
            elapsed_s=m.mono_s - self._t0,
            gpu_j=m.gpu_j,
            cpu_j=m.cpu_j,
            ram_j=m.ram_j,
            gpu_method=m.gpu_method,
            cpu_method=m.cpu_method,
            ram_method=m.ram_method,
        )
        with self.store.write() as session:
            if not heartbeat(session, self.run_id, row, self.clock.now(), self.lease):
                log.warning(
                    "run %s is no longer ours (settled by the reaper); stopping", self.run_id
                )
                self.lost.set()
        self.last = m
        self.count += 1
        self.seconds_spent += self.clock.monotonic() - began
        return m

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def stop(self) -> Measurement:
        """Stop the thread and take the final sample."""
        self._stop.set()
        self._thread.join()
        final = self.sample()
        self.meter.close()
        return final
