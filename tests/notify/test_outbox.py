"""The outbox over a real SQLite file: which job events become notices, each once."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from gridwait.clock import ManualClock
from gridwait.config import NotifyEvent, NotifySettings
from gridwait.notify.outbox import Outbox
from gridwait.notify.recording import RecordingNotifier
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store, make_engine
from gridwait.store.jobs import add_job, get_job, transition
from gridwait.store.migrations import migrate
from gridwait.store.notify import cursor
from tests.conftest import T0

LAB = "json://127.0.0.1:9/lab"
PATH = [JobState.PLANNED, JobState.RUNNING, JobState.SUSPENDED, JobState.PLANNED]
RESUMED = [*PATH, JobState.RUNNING, JobState.SUCCEEDED]


def _job(store: Store, dataset: Path, moves: list[JobState], name: str = "a") -> int:
    spec = JobSpec.model_validate(
        {
            "name": name,
            "model": "builtin:minilm",
            "deadline": "20h",
            "dataset": {"path": str(dataset)},
        }
    )
    with store.write() as session:
        job = add_job(session, resolve(spec, T0, dataset.parent), 1, T0)
        for state in moves:
            transition(session, get_job(session, job.id or 0), state, T0, f"to {state}")
    return job.id or 0


def _outbox(
    store: Store, events: list[NotifyEvent] | None = None
) -> tuple[Outbox, RecordingNotifier]:
    settings = NotifySettings(urls=[SecretStr(LAB)])
    if events is not None:
        settings = settings.model_copy(update={"events": events})
    notifier = RecordingNotifier()
    return Outbox(store, settings, notifier), notifier


def test_a_resumed_segment_is_no_new_start_and_waiting_states_say_nothing(
    tmp_path: Path, dataset: Path
) -> None:
    store = Store(tmp_path / "o.db", ManualClock(T0))
    job_id = _job(store, dataset, RESUMED)
    outbox, notifier = _outbox(store)
    outbox.deliver(T0)
    assert [m.event for _, m in notifier.sent] == ["started", "finished"]
    assert {url for url, _ in notifier.sent} == {LAB}
    assert all(m.job_id == job_id for _, m in notifier.sent)


def test_a_start_after_a_run_that_never_began_is_told_again(tmp_path: Path, dataset: Path) -> None:
    store = Store(tmp_path / "o.db", ManualClock(T0))
    moves = [JobState.PLANNED, JobState.RUNNING, JobState.QUEUED, JobState.PLANNED]
    _job(store, dataset, [*moves, JobState.RUNNING, JobState.SUSPENDED, *PATH[-1:]])
    outbox, notifier = _outbox(store)
    outbox.deliver(T0)
    with store.write() as session:  # the resumed segment
        transition(session, get_job(session, 1), JobState.RUNNING, T0, "resumed")
    outbox.deliver(T0)
    assert [m.event for _, m in notifier.sent] == ["started", "started"]


def test_only_the_chosen_events_are_sent(tmp_path: Path, dataset: Path) -> None:
    store = Store(tmp_path / "o.db", ManualClock(T0))
    _job(store, dataset, [JobState.PLANNED, JobState.RUNNING, JobState.FAILED], "f")
    _job(store, dataset, [JobState.HELD], "h")
    outbox, notifier = _outbox(store, events=["failed"])
    outbox.deliver(T0)
    assert [m.title for _, m in notifier.sent] == ["gridwait: job 1 'f' failed"]


def test_a_failing_target_is_tried_once_and_the_others_still_told(
    tmp_path: Path, dataset: Path
) -> None:
    store = Store(tmp_path / "o.db", ManualClock(T0))
    _job(store, dataset, [JobState.PLANNED, JobState.RUNNING])
    notifier = RecordingNotifier(failing=frozenset({"json://down/x"}))
    settings = NotifySettings(urls=[SecretStr("json://down/x"), SecretStr(LAB)])
    outbox = Outbox(store, settings, notifier)
    done = outbox.deliver(T0)
    assert [(d.target, d.ok) for d in done] == [("json://****", False), ("json://****", True)]
    assert outbox.deliver(T0) == []  # the cursor moved on: not retried, not repeated
    with store.read() as session:
        assert cursor(session) == 3  # submitted, planned, running


def test_an_upgraded_database_does_not_announce_its_past(tmp_path: Path, dataset: Path) -> None:
    db = tmp_path / "old.db"
    engine = make_engine(db)
    with engine.begin() as conn:  # what gridwait wrote before notifications existed
        migrate(conn, T0.isoformat(), target=7)
    engine.dispose()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO jobs (name, owner, project, model, task, dataset, spec_json, epochs,"
            " batch_size, max_length, learning_rate, gpus, interruptible, padding, max_retries,"
            " submitted_at, earliest_start, deadline, state, updated_at, plan_late)"
            " VALUES ('old', 'ada', 'p', 'm', 'sequence-classification', '/d.csv', '{}', 1, 8,"
            " 64, 5e-5, 0, 0, 'dynamic', 1, '2026-03-02 09:00:00.000000',"
            " '2026-03-02 09:00:00.000000', '2026-03-02 10:00:00.000000', 'planned',"
            " '2026-03-02 09:00:00.000000', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO job_events (job_id, at, from_state, to_state, reason)"
            " VALUES (1, '2026-03-02 09:00:00.000000', 'held', 'planned', 'old news'),"
            " (1, '2026-03-02 09:00:00.000000', 'queued', 'held', 'old news')"
        )
    engine.dispose()
    store = Store(db, ManualClock(T0))  # migrates to the latest
    outbox, notifier = _outbox(store)
    outbox.deliver(T0)
    assert notifier.sent == []  # neither the old hold nor the old late plan
    _job(store, dataset, [JobState.HELD], "new")
    outbox.deliver(T0)
    assert [m.title for _, m in notifier.sent] == ["gridwait: job 2 'new' held by a budget"]
