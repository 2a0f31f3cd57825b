"""The scheduler's notices: every job event the store wrote since the last pass becomes at
most one message, sent to the job owner's own URL and to the lab's.

The store's job events are the outbox: an event is written once, on a transition (a job
re-planned while held writes none), and a cursor in the database says how far the notices
have gone, so nothing is announced twice, even across restarts. A resumed segment or a
retry is no new start. Lateness is a flag of the plan, not an event: a late job is
announced once and marked.

A target that fails is logged, masked, with its reason; the cursor moves on regardless
(a notice is worth one try, not a stalled queue of them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from gridwait.config import NotifySettings
from gridwait.notify import messages
from gridwait.notify.base import Delivery, Message, Notifier
from gridwait.notify.messages import JobFacts, Outcome
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.models import Job, JobEvent, Run

log = logging.getLogger("gridwait.notify")
BATCH = 100
"""Events read per pass; the rest wait for the next pass."""


def facts(job: Job) -> JobFacts:
    assert job.id is not None
    return JobFacts(
        id=job.id,
        name=job.name,
        owner=job.owner,
        project=job.project,
        deadline=job.deadline,
        planned_start=job.planned_start,
        planned_end=job.planned_end,
        forecast_g=job.plan_forecast_g,
        run_now_g=job.plan_run_now_g,
    )


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def outcome(runs: Sequence[Run]) -> Outcome:
    """A job's runs (segments, retries) added up."""
    return Outcome(
        energy_j=_sum([r.energy_facility_j for r in runs]),
        emissions_g=_sum([r.emissions_g for r in runs]),
        counterfactual_g=_sum([r.counterfactual_g for r in runs]),
        saving_g=_sum([r.saving_g for r in runs]),
        provisional=any(r.emissions_provisional for r in runs),
    )


class Outbox:
    def __init__(self, store: Store, settings: NotifySettings, notifier: Notifier) -> None:
        self.store, self.settings, self.notifier = store, settings, notifier
        self.lab = [url.get_secret_value() for url in settings.urls]

    def deliver(self, now: datetime) -> list[Delivery]:
        """Send the notices due since the last pass; what each delivery did."""
        from gridwait.store.notify import advance, cursor, events_after

        done: list[Delivery] = []
        with self.store.read() as session:
            pending = list(events_after(session, cursor(session), BATCH))
        for event in pending:
            message, owner = self._message(event)
            if message is not None:
                done += self._send(message, owner)
            with self.store.write() as session:
                advance(session, event.id or 0)
        return done + self._late(now)

    def _message(self, event: JobEvent) -> tuple[Message | None, str]:
        from gridwait.store.jobs import get_job
        from gridwait.store.notify import started_before
        from gridwait.store.runs import runs_of

        wanted = set(self.settings.events)
        with self.store.read() as session:
            job = get_job(session, event.job_id)
            about = facts(job)
            if event.to_state == JobState.RUNNING and "started" in wanted:
                if started_before(session, event.job_id, event.id or 0):
                    return None, job.owner
                return messages.started(about, event.at), job.owner
            if event.to_state == JobState.SUCCEEDED and "finished" in wanted:
                spent = outcome(runs_of(session, event.job_id))
                return messages.finished(about, event.at, spent), job.owner
            if event.to_state == JobState.FAILED and "failed" in wanted:
                spent = outcome(runs_of(session, event.job_id))
                return messages.failed(about, event.at, event.reason, spent), job.owner
            if event.to_state == JobState.HELD and "held" in wanted:
                return messages.held(about, event.at, event.reason), job.owner
        return None, job.owner

    def _late(self, now: datetime) -> list[Delivery]:
        from gridwait.store.notify import late_unannounced, mark_late_announced

        if "late" not in self.settings.events:
            return []
        with self.store.read() as session:
            jobs = list(late_unannounced(session))
        done: list[Delivery] = []
        for job in jobs:
            # a planned job's reason is the planner's why; a running one's is only "started"
            why = job.state_reason if job.state == JobState.PLANNED else None
            done += self._send(messages.late(facts(job), why), job.owner)
            with self.store.write() as session:
                mark_late_announced(session, job.id or 0, now)
        return done

    def targets(self, owner: str) -> list[str]:
        """The owner's own URL, then the lab's, each once."""
        from gridwait.store.notify import notify_url_of

        with self.store.read() as session:
            own = notify_url_of(session, owner)
        return list(dict.fromkeys([*([own] if own else []), *self.lab]))

    def _send(self, message: Message, owner: str) -> list[Delivery]:
        done = []
        for url in self.targets(owner):
            delivery = self.notifier.send(url, message)
            if delivery.ok:
                log.info("job %s: told %s (%s)", message.job_id, delivery.target, message.event)
            else:
                log.warning(
                    "job %s: could not tell %s (%s): %s",
                    message.job_id,
                    delivery.target,
                    message.event,
                    delivery.reason,
                )
            done.append(delivery)
        return done
