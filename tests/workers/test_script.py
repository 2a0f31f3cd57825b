"""Script jobs in the worker: the researcher's command as a real child process, with
gridwait's environment, SIGTERM then SIGKILL at a segment's end, exit codes mapped to
states, and its CPU time measured with the worker's."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gridwait.app.deps import Deps
from gridwait.app.runs import LocalReporter
from gridwait.clock import SystemClock
from gridwait.config import Settings
from gridwait.estimators.tokens import DatasetRef, count_job_tokens
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, transition
from gridwait.store.runs import claim
from gridwait.workers.reporter import MeterSettings, Ticket
from gridwait.workers.runner import EXIT, run_worker
from gridwait.workers.script import command_of, files_of, read_report, run_script
from tests.conftest import T0

# Counts to STEPS, one step every 20 ms, keeping its count in state.txt; on SIGTERM it
# saves and exits 75; with GRIDWAIT_RESUME=1 it goes on from the saved count. It writes
# the environment it saw to env.json and a result file as GridwaitCallback would.
COUNTER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    STEPS = int(sys.argv[1])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    keep = {k: v for k, v in os.environ.items() if k.startswith(("GRIDWAIT_", "LAB_", "PATH"))}
    json.dump({**keep, "argv0": sys.executable}, open("env.json", "w"))
    step = int(open("state.txt").read()) if os.environ.get("GRIDWAIT_RESUME") == "1" else 0
    while step < STEPS:
        time.sleep(0.02)
        step += 1
        open("state.txt", "w").write(str(step))
        if stop:
            print("checkpointed at", step, flush=True)
            sys.exit(75)
    result = {"tokens_real": 10 * step, "tokens_padded": 16 * step, "steps": step,
              "total_steps": STEPS, "final_loss": 0.5, "examples": step}
    open(os.environ["GRIDWAIT_RESULT_FILE"], "w").write(json.dumps(result))
    sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    """
)


def ticket(tmp_path: Path, segment: int = 0, **spec: Any) -> Ticket:
    body = {
        "name": "s",
        "kind": "script",
        "command": ["python", "counter.py", "10"],
        "duration": "1h",
        "deadline": "4h",
        "workdir": str(tmp_path),
        "env": {"LAB_SEED": "7"},
        **spec,
    }
    (tmp_path / "counter.py").write_text(COUNTER)
    return Ticket(
        run_id=5 + segment,
        job_id=3,
        attempt=0,
        segment=segment,
        spec=JobSpec.model_validate(body),
        deadline=T0 + timedelta(hours=4),
        gpus=0,
        threads=1,
        work_dir=str(tmp_path / "job"),
        checkpoint=None,
        segment_end=None,
        lease_expires_at=T0 + timedelta(minutes=5),
        meter=MeterSettings(
            cpu_watts_per_core=10, ram_watts_per_gb=0.4, hardware=None, sample_seconds=0.2
        ),
    )


def seen_env(tmp_path: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((tmp_path / "env.json").read_text())
    return data


def test_a_script_runs_with_its_environment(tmp_path: Path) -> None:
    done = run_script(ticket(tmp_path), threading.Event())
    assert done.state == "succeeded" and done.error is None
    assert done.report is not None and done.report["steps"] == 10
    env = seen_env(tmp_path)
    assert env["GRIDWAIT_JOB_ID"] == "3" and env["GRIDWAIT_RUN_ID"] == "5"
    assert env["LAB_SEED"] == "7" and "GRIDWAIT_RESUME" not in env
    assert env["GRIDWAIT_GRACE_SECONDS"] == "60"
    assert env["GRIDWAIT_RESULT_FILE"].endswith("run-5.result.json")
    assert env["GRIDWAIT_WORK_DIR"] == str(tmp_path / "job")
    assert env["argv0"] == sys.executable  # `python` is the service's interpreter
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_exit_codes_become_states(tmp_path: Path) -> None:
    failed = run_script(
        ticket(tmp_path, command=["python", "counter.py", "2", "3"]), threading.Event()
    )
    assert failed.state == "failed" and failed.error == "the command exited with code 3"
    suspended = run_script(
        ticket(tmp_path, command=["python", "counter.py", "2", "75"]), threading.Event()
    )
    assert suspended.state == "suspended"


def test_stopped_suspends_and_the_next_segment_resumes(tmp_path: Path) -> None:
    stop = threading.Event()
    threading.Timer(0.6, stop.set).start()  # the segment ends while it counts to 200
    first = run_script(ticket(tmp_path, command=["python", "counter.py", "200"]), stop)
    assert first.state == "suspended"
    reached = int((tmp_path / "state.txt").read_text())
    assert 0 < reached < 200
    second = run_script(
        ticket(tmp_path, segment=1, command=["python", "counter.py", "200"]), threading.Event()
    )
    assert second.state == "succeeded" and seen_env(tmp_path)["GRIDWAIT_RESUME"] == "1"
    assert second.report is not None and second.report["steps"] == 200  # none lost, none twice


def test_a_script_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    (tmp_path / "stubborn.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open('up', 'w').close()\ntime.sleep(60)\n"
    )
    stop = threading.Event()
    t = ticket(tmp_path, command=["python", "stubborn.py"], env={"GRIDWAIT_GRACE_SECONDS": "0.5"})
    threading.Thread(target=lambda: (_wait_for(tmp_path / "up"), stop.set())).start()
    done = run_script(t, stop)
    assert done.state == "failed" and done.error == "the command was killed by signal 9"


def test_a_script_stopped_before_it_can_checkpoint_is_suspended(tmp_path: Path) -> None:
    """SIGTERM's default action (a script still loading): the segment is over, the job
    is not failed; its next segment starts it over."""
    (tmp_path / "loading.py").write_text("import time\nopen('up', 'w').close()\ntime.sleep(60)\n")
    stop = threading.Event()
    threading.Thread(target=lambda: (_wait_for(tmp_path / "up"), stop.set())).start()
    done = run_script(ticket(tmp_path, command=["python", "loading.py"]), stop)
    assert done.state == "suspended" and done.error is None
    dies = run_script(
        ticket(tmp_path, command="kill -TERM $$", shell=True), threading.Event()
    )  # a SIGTERM nobody at gridwait sent is a failure
    assert dies.state == "failed" and "signal 15" in (dies.error or "")


def _wait_for(path: Path) -> None:
    import time

    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_commands_and_shells(tmp_path: Path) -> None:
    t = ticket(tmp_path, command="echo hi > said.txt", shell=True)
    assert command_of(t.spec) == ["/bin/sh", "-c", "echo hi > said.txt"]
    assert run_script(t, threading.Event()).state == "succeeded"
    assert (tmp_path / "said.txt").read_text() == "hi\n"
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    assert command_of(ticket(tmp_path, python=str(venv)).spec)[0] == str(venv / "bin" / "python")
    missing = run_script(ticket(tmp_path, python=str(tmp_path / "nope")), threading.Event())
    assert missing.state == "failed" and "cannot start" in (missing.error or "")


def test_the_worker_measures_the_script_and_records_its_tally(tmp_path: Path) -> None:
    """Through run_worker and the real CPU-time meter: the child's CPU seconds count
    (a child that ended keeps them), and the callback's tally becomes the run's tokens."""
    (tmp_path / "burn.py").write_text(
        "import json, os, time\nt = time.process_time()\n"
        "while time.process_time() - t < 1.0: pass\n"
        "json.dump({'tokens_real': 40, 'tokens_padded': 64, 'steps': 4, 'total_steps': 4,"
        " 'final_loss': 0.25, 'examples': 2}, open(os.environ['GRIDWAIT_RESULT_FILE'], 'w'))\n"
    )
    settings = Settings(
        db=tmp_path / "w.db", energy={"sample_seconds": 0.2, "cpu_watts_per_core": 10.0}
    )
    clock = SystemClock()
    store = Store(settings.db, clock)
    spec = JobSpec.model_validate(
        {
            "name": "burn",
            "kind": "script",
            "command": ["python", "burn.py"],
            "model": "builtin:minilm",
            "dataset": {"path": str(Path(__file__).parents[2] / "gridwait/data/demo_reviews.csv")},
            "deadline": "4h",
        }
    )
    with store.write() as session:
        job = add_job(session, resolve(spec, T0, tmp_path), 1, T0)
        job.planned_start = T0
        transition(session, job, JobState.PLANNED, T0, "test")
    with store.write() as session:
        assert job.id is not None
        run = claim(session, job.id, T0, clock.now(), timedelta(minutes=1), "", None)
    assert run is not None and run.id is not None
    assert run_worker(LocalReporter(Deps(settings, clock), run.id), clock) == EXIT["succeeded"]
    with store.read() as session:
        from gridwait.store.models import Run

        done = session.get(Run, run.id)
    assert done is not None and done.state == "succeeded"
    assert done.tokens_real == 40 and done.tokens_padded == 64 and done.steps == 4
    assert done.energy_cpu_j is not None and done.energy_cpu_j >= 0.8 * 10.0  # >= 0.8 CPU-s
    status = json.loads((settings.job_dir(job.id) / f"run-{run.id}.status.json").read_text())
    assert status["energy_kwh"] > 0


@pytest.mark.slow
def test_the_example_script_suspended_and_resumed_ends_at_the_same_step(tmp_path: Path) -> None:
    """examples/train_script.py (a real Trainer with GridwaitCallback) through the worker's
    run_script: the segment ends mid-training (SIGTERM), the script checkpoints and exits
    75, and the next segment (GRIDWAIT_RESUME=1, same folders) ends at the optimizer step an
    uninterrupted run ends at, having trained on the same tokens in all."""
    root = Path(__file__).resolve().parents[2]
    argv = ["python", str(root / "examples" / "train_script.py"), "--limit", "48"]
    argv += ["--epochs", "3", "--max-length", "16", "--batch-size", "8", "--save-steps", "100"]
    data = {"path": str(root / "gridwait" / "data" / "demo_reviews.csv"), "limit": 48}
    spec = {"command": argv, "duration": None, "model": "builtin:minilm", "dataset": data}
    first_ticket = ticket(tmp_path, **spec)
    result_file = files_of(first_ticket)[0]
    result_file.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def stop_after_two_steps() -> None:
        while not stop.is_set():
            report = read_report(result_file)
            if report and report.get("steps", 0) >= 2:
                stop.set()
            time.sleep(0.05)

    threading.Thread(target=stop_after_two_steps, daemon=True).start()
    first = run_script(first_ticket, stop)
    stop.set()
    assert first.state == "suspended", first.error
    assert first.report is not None and 2 <= first.report["steps"] < first.report["total_steps"]
    second = run_script(ticket(tmp_path, segment=1, **spec), threading.Event())
    assert second.state == "succeeded", second.error
    assert second.report is not None
    assert second.report["steps"] == second.report["total_steps"] == 18  # 3 epochs x 6 steps
    count = count_job_tokens("builtin:minilm", DatasetRef(data["path"], limit=48), 16, 8, 3,
                             "max", 42)  # fmt: skip
    trained = first.report["tokens_padded"] + second.report["tokens_padded"]
    assert trained == count.padded  # what one uninterrupted run trains on
