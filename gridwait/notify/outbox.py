"""The scheduler's notices: every job event the store wrote since the last pass becomes at
most one message, sent to the job owner's own URL and to the lab's.

The store's job events are the outbox: an event is written once, on a transition (a job
re-planned while held writes none), and a cursor in the database says how far the notices
have gone, so nothing is announced twice, even across restarts. A resumed segment is no
new start; a retry after a lost run, or a start after one that never began, is.
Lateness is a flag of the plan, not an event: a late job is announced once and marked.

A target that fails is logged, masked, with its reason; the cursor moves on regardless
(a notice is worth one try, not a stalled queue of them)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

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

        # one read for the whole batch; one write per notice sent (told is told, even if
        # the service dies before the next), and one for the events that said nothing
        with self.store.read() as session:
            pending = list(events_after(session, cursor(session), BATCH))
            notices = [(e.id or 0, *self._message(session, e)) for e in pending]
        done: list[Delivery] = []
        for event_id, message, targets in notices:
            if message is not None:
                done += self._send(message, targets)
                with self.store.write() as session:
                    advance(session, event_id)
        if notices and notices[-1][1] is None:
            with self.store.write() as session:
                advance(session, notices[-1][0])
        return done + self._late(now)

    def _message(self, session: Session, event: JobEvent) -> tuple[Message | None, list[str]]:
        """The notice an event gives, if any, and whom to send it to."""
        from gridwait.store.jobs import get_job
        from gridwait.store.notify import resumes
        from gridwait.store.runs import runs_of

        wanted = set(self.settings.events)
        event_id, job_id = event.id or 0, event.job_id
        message: Message | None = None
        job = get_job(session, job_id)
        about = facts(job)
        if event.to_state == JobState.RUNNING and "started" in wanted:
            if not resumes(session, job_id, event_id):
                message = messages.started(about, event.at)
        elif event.to_state == JobState.SUCCEEDED and "finished" in wanted:
            message = messages.finished(about, event.at, outcome(runs_of(session, job_id)))
        elif event.to_state == JobState.FAILED and "failed" in wanted:
            spent = outcome(runs_of(session, job_id))
            message = messages.failed(about, event.at, event.reason, spent)
        elif event.to_state == JobState.HELD and "held" in wanted:
            message = messages.held(about, event.at, event.reason)
        return message, (self._targets(session, job.owner) if message else [])

    def _late(self, now: datetime) -> list[Delivery]:
        from gridwait.store.notify import late_unannounced, mark_late_announced

        if "late" not in self.settings.events:
            return []
        with self.store.read() as session:
            # a planned job's reason is the planner's why; a running one's is only "started"
            notices = [
                (
                    job.id or 0,
                    messages.late(
                        facts(job), job.state_reason if job.state == JobState.PLANNED else None
                    ),
                    self._targets(session, job.owner),
                )
                for job in late_unannounced(session)
            ]
        done: list[Delivery] = []
        for job_id, message, targets in notices:
            done += self._send(message, targets)
            with self.store.write() as session:
                mark_late_announced(session, job_id, now)
        return done

    def _targets(self, session: Session, owner: str) -> list[str]:
        """The owner's own URL, then the lab's, each once."""
        from gridwait.store.notify import notify_url_of

        own = notify_url_of(session, owner)
        return list(dict.fromkeys([*([own] if own else []), *self.lab]))

    def _send(self, message: Message, targets: list[str]) -> list[Delivery]:
        done = []
        for url in targets:
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
