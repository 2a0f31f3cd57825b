"""The RunReporter over HTTP: a worker on a node without the database (a Slurm node)
reports to the gridwait service with its run's own token.

Samples are appended to a spool file on local disk before each heartbeat and dropped
only once the service has them, so a service restart (or a network gap) loses no
measurement: the next heartbeat that gets through carries everything spooled, in order
(the service ignores samples it already has). `start`, `finish` and `suspended` retry
with exponential backoff until `give_up_s`; a heartbeat tries once and keeps the run
going, since the lease is what decides whether the run is still ours."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from gridwait.errors import GridwaitError
from gridwait.workers.reporter import Outcome, RunNotOurs, Sample, Ticket

log = logging.getLogger(__name__)
BATCH = 5000
"""Samples per heartbeat request (the service takes up to 10,000)."""


class ReporterError(GridwaitError):
    """The service could not be reached, or refused a report, for longer than we wait."""


class _Unreachable(Exception):
    pass


class HttpReporter:
    def __init__(
        self,
        url: str,
        run_id: int,
        token: str,
        spool: Path,
        *,
        give_up_s: float = 900.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = f"{url.rstrip('/')}/api/v1/runs/{run_id}"
        self.run_id, self.spool = run_id, spool
        self.give_up_s, self.timeout_s, self._sleep = give_up_s, timeout_s, sleep
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._pending: list[Sample] = _read_spool(spool)
        self._warned = False

    # ---- the contract -----------------------------------------------------------------

    def start(self, handle: str, host: str) -> Ticket:
        body = self._until_answered("start", {"handle": handle, "host": host})
        return Ticket.model_validate(body)

    def heartbeat(self, samples: list[Sample]) -> bool:
        self._keep(samples)
        waiting = len(self._pending)
        try:
            running = self._flush()
        except _Unreachable as exc:
            if not self._warned:
                log.warning("service unreachable (%s); spooling samples to %s", exc, self.spool)
                self._warned = True
            return True
        if self._warned:
            log.info("service reachable again: %d spooled sample(s) delivered", waiting)
            self._warned = False
        return running

    def finish(self, outcome: Outcome) -> None:
        self._end("finish", outcome)

    def suspended(self, outcome: Outcome) -> None:
        self._end("suspended", outcome)

    # ---- plumbing ---------------------------------------------------------------------

    def _end(self, step: str, outcome: Outcome) -> None:
        began = time.monotonic()
        while True:  # the spooled samples first, so the outcome is the last word
            try:
                if not self._flush():
                    raise RunNotOurs(f"run {self.run_id} is no longer this worker's")
                break
            except _Unreachable as exc:
                self._wait(began, step, exc)
        self._until_answered(step, outcome.model_dump(mode="json"), began)
        self.spool.unlink(missing_ok=True)

    def _flush(self) -> bool:
        """Send what is spooled; the service's answer whether the run is still ours."""
        running = True
        while True:
            batch = self._pending[:BATCH]
            body = {"samples": [s.model_dump(mode="json") for s in batch]}
            answer = self._post("heartbeat", body)
            if answer is None:  # refused: the run has ended or lost its lease
                return False
            running = bool(answer["running"])
            self._pending = self._pending[len(batch) :]
            self._rewrite()
            if not self._pending:
                return running

    def _until_answered(self, step: str, body: Any, began: float | None = None) -> Any:
        began = time.monotonic() if began is None else began
        while True:
            try:
                answer = self._post(step, body)
            except _Unreachable as exc:
                self._wait(began, step, exc)
                continue
            if answer is None:
                raise RunNotOurs(f"run {self.run_id}: the service no longer takes its {step}")
            return answer

    def _wait(self, began: float, step: str, exc: Exception) -> None:
        waited = time.monotonic() - began
        if waited > self.give_up_s:
            raise ReporterError(f"run {self.run_id}: {step} not delivered in {waited:.0f} s: {exc}")
        delay = min(30.0, 0.5 * 2 ** min(10, int(waited // 5)))
        log.warning("%s: service unreachable (%s); retrying in %.1f s", step, exc, delay)
        self._sleep(delay)

    def _post(self, step: str, body: Any) -> Any | None:
        """The JSON answer (or {} for 204); None when the service says the run is not
        this worker's (401: token ended with the run; 403; 409: state); _Unreachable
        for network errors and 5xx, which are worth retrying."""
        try:
            response = self._http.post(f"{self.base}/{step}", json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise _Unreachable(type(exc).__name__) from None
        if response.status_code >= 500:
            raise _Unreachable(f"HTTP {response.status_code}")
        if response.status_code in (401, 403, 409):
            log.error("%s refused: %s", step, _detail(response))
            return None
        if response.status_code >= 400:  # our own message is wrong: retrying cannot help
            raise ReporterError(f"run {self.run_id}: {step} refused: {_detail(response)}")
        return {} if response.status_code == 204 else response.json()

    def _keep(self, samples: list[Sample]) -> None:
        if not samples:
            return
        self._pending.extend(samples)
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a", encoding="utf-8") as f:
            for s in samples:
                f.write(s.model_dump_json() + "\n")
            f.flush()

    def _rewrite(self) -> None:
        if not self._pending:
            self.spool.unlink(missing_ok=True)
            return
        temporary = self.spool.with_suffix(".tmp")
        temporary.write_text("".join(s.model_dump_json() + "\n" for s in self._pending))
        temporary.replace(self.spool)


def _read_spool(spool: Path) -> list[Sample]:
    """Samples a previous worker process spooled and never delivered."""
    if not spool.exists():
        return []
    kept, cut = [], 0
    for line in spool.read_text(encoding="utf-8").splitlines():
        try:
            kept.append(Sample.model_validate_json(line))
        except ValueError:  # a line cut by a crash mid-write
            cut += 1
    if kept or cut:
        log.warning(
            "%s: %d undelivered sample(s) to send, %d unreadable line(s) dropped",
            spool,
            len(kept),
            cut,
        )
    return kept


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
