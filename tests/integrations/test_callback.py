"""GridwaitCallback in real Trainer runs on the builtin model (slow: real fine-tunes):
nothing outside gridwait; under it, the result file, the worker's energy in the logs, and
a SIGTERM that checkpoints, exits 75 and resumes to the end a run left alone reaches."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from gridwait.estimators.tokens import model_path
from gridwait.integrations.transformers import (
    EXIT_SUSPENDED,
    NOT_UNDER_GRIDWAIT,
    GridwaitCallback,
    attach,
    read_status,
    resume_checkpoint,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_script.py"
DEMO = ROOT / "gridwait" / "data" / "demo_reviews.csv"
MAX_LENGTH = 16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(model_path("builtin:minilm"))


def texts(n: int) -> list[str]:
    with DEMO.open(newline="", encoding="utf-8") as file:
        return [row["text"] for row in csv.DictReader(file)][:n]


def real_tokens(tokenizer: Any, n: int) -> int:
    """Non-padding tokens of the first `n` examples, straight from the tokenizer."""
    return sum(
        len(tokenizer(text, truncation=True, max_length=MAX_LENGTH)["input_ids"])
        for text in texts(n)
    )


def trainer_for(
    tokenizer: Any, n: int, out: Path, callbacks: list[TrainerCallback], **arguments: Any
) -> Trainer:
    """A researcher's own Trainer on the first `n` demo reviews, padded to MAX_LENGTH;
    no checkpoints unless asked for."""
    rows = [
        {**tokenizer(text, truncation=True, max_length=MAX_LENGTH), "labels": i % 2}
        for i, text in enumerate(texts(n))
    ]
    model = AutoModelForSequenceClassification.from_pretrained(
        model_path("builtin:minilm"), num_labels=2
    )
    args = TrainingArguments(
        output_dir=str(out),
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        **arguments,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=rows[:4],
        data_collator=DataCollatorWithPadding(
            tokenizer, padding="max_length", max_length=MAX_LENGTH
        ),
        callbacks=callbacks,
    )


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The environment the worker gives a script job; returns its result and status files."""
    result, status = tmp_path / "result.json", tmp_path / "status.json"
    monkeypatch.delenv("GRIDWAIT_RESUME", raising=False)
    monkeypatch.setenv("GRIDWAIT_RUN_ID", "7")
    monkeypatch.setenv("GRIDWAIT_JOB_ID", "3")
    monkeypatch.setenv("GRIDWAIT_RESULT_FILE", str(result))
    monkeypatch.setenv("GRIDWAIT_STATUS_FILE", str(status))
    return {"result": result, "status": status}


class Worker(TrainerCallback):
    """Plays the worker's status writer at each step end, and records the training logs
    that reach the callbacks after GridwaitCallback."""

    def __init__(self, status: Path) -> None:
        self.status = status
        self.logs: dict[int, dict[str, Any]] = {}
        self.handlers: list[Any] = []

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = state.global_step
        self.handlers.append(signal.getsignal(signal.SIGTERM))
        if step == 3:
            self.status.write_text('{"energy_kwh": 0.0')  # caught mid-write
        else:
            emissions = None if step == 1 else step * 0.5
            self.status.write_text(
                json.dumps({"energy_kwh": step / 1000, "emissions_g": emissions})
            )

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if "loss" in logs:
            self.logs[state.global_step] = dict(logs)


def test_outside_gridwait_it_warns_once_and_does_nothing(
    tokenizer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDWAIT_RUN_ID", raising=False)
    result, status = tmp_path / "result.json", tmp_path / "status.json"
    monkeypatch.setenv("GRIDWAIT_RESULT_FILE", str(result))  # set, but not under gridwait
    monkeypatch.setenv("GRIDWAIT_STATUS_FILE", str(status))
    worker = Worker(status)
    before = signal.getsignal(signal.SIGTERM)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        callbacks: list[TrainerCallback] = [GridwaitCallback(), worker]
        trainer = trainer_for(tokenizer, 16, tmp_path / "out", callbacks, num_train_epochs=1)
        trainer.train()
    assert [str(w.message) for w in caught].count(NOT_UNDER_GRIDWAIT) == 1
    assert trainer.state.global_step == 2
    assert not result.exists()
    assert sorted(worker.logs) == [1, 2]
    assert not any(key.startswith("gridwait/") for logs in worker.logs.values() for key in logs)
    assert worker.handlers == [before, before]


def test_under_gridwait_it_reports_tokens_and_passes_on_the_energy(
    tokenizer: Any, tmp_path: Path, files: dict[str, Path]
) -> None:
    """18 examples in micro-batches of 4 (the last of 2), 2 per step, for 2 epochs: 3 steps
    an epoch; the evaluations every 2 steps are not training and are not counted."""
    worker = Worker(files["status"])
    before = signal.getsignal(signal.SIGTERM)
    trainer = trainer_for(
        tokenizer,
        18,
        tmp_path / "out",
        [GridwaitCallback(), worker],
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        num_train_epochs=2,
        eval_strategy="steps",
        eval_steps=2,
    )
    trainer.train()

    result = json.loads(files["result"].read_text())
    assert result == {
        "tokens_real": 2 * real_tokens(tokenizer, 18),
        "tokens_padded": 2 * 18 * MAX_LENGTH,
        "steps": 6,
        "total_steps": 6,
        "final_loss": pytest.approx(worker.logs[6]["loss"]),
        "examples": 36,
    }
    assert trainer.state.global_step == 6
    energy = {step: logs.get("gridwait/energy_kwh") for step, logs in worker.logs.items()}
    assert energy == {1: 0.001, 2: 0.002, 3: None, 4: 0.004, 5: 0.005, 6: 0.006}
    emissions = {step: logs.get("gridwait/emissions_g") for step, logs in worker.logs.items()}
    assert emissions == {1: None, 2: 1.0, 3: None, 4: 2.0, 5: 2.5, 6: 3.0}
    assert worker.handlers[0] != before and signal.getsignal(signal.SIGTERM) == before


class SignalAtStep2(TrainerCallback):
    """Sends this process SIGTERM at the end of step 2, and records what it sees."""

    def __init__(self) -> None:
        self.energy: list[float | None] = []
        self.ended = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 2:
            assert callable(signal.getsignal(signal.SIGTERM)), "it would end the test run"
            os.kill(os.getpid(), signal.SIGTERM)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        self.energy.append(logs.get("gridwait/energy_kwh"))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.ended = True


@pytest.mark.parametrize("how", ["callbacks", "attach"])
def test_sigterm_checkpoints_after_the_step_and_exits_75(
    tokenizer: Any, tmp_path: Path, files: dict[str, Path], how: str
) -> None:
    """In `callbacks=` after GridwaitCallback, a callback misses on_train_end on suspension;
    `attach` puts GridwaitCallback ahead of all and its exit after all."""
    files["status"].write_text('{"energy_kwh": 0.25, "emissions_g": null}')
    before = signal.getsignal(signal.SIGTERM)
    other = SignalAtStep2()
    callbacks: list[TrainerCallback] = (
        [GridwaitCallback(), other] if how == "callbacks" else [other]
    )
    trainer = trainer_for(
        tokenizer, 16, tmp_path / "out", callbacks, per_device_train_batch_size=2, max_steps=8
    )
    if how == "attach":
        attach(trainer)
    with pytest.raises(SystemExit) as exited:
        trainer.train()

    assert exited.value.code == EXIT_SUSPENDED
    result = json.loads(files["result"].read_text())
    assert (result["steps"], result["total_steps"], result["examples"]) == (3, 8, 6)
    assert result["tokens_padded"] == 6 * MAX_LENGTH
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["checkpoint-3"]
    assert signal.getsignal(signal.SIGTERM) == before
    assert other.energy[:3] == [0.25, 0.25, 0.25]  # the logs of steps 1 to 3
    assert other.ended == (how == "attach")


def test_resume_checkpoint_names_the_latest_complete_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for step, complete in ((5, True), (20, True), (30, False)):
        (tmp_path / f"checkpoint-{step}").mkdir()
        if complete:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-best").mkdir()
    monkeypatch.delenv("GRIDWAIT_RESUME", raising=False)
    assert resume_checkpoint(tmp_path) is None
    monkeypatch.setenv("GRIDWAIT_RESUME", "1")
    assert resume_checkpoint(tmp_path) == str(tmp_path / "checkpoint-20")
    assert resume_checkpoint(tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (
            '{"energy_kwh": 1.5, "emissions_g": 300}',
            {"gridwait/energy_kwh": 1.5, "gridwait/emissions_g": 300.0},
        ),
        ('{"energy_kwh": 2, "emissions_g": null}', {"gridwait/energy_kwh": 2.0}),
        ('{"energy_kwh": 2', {}),
        ('{"energy_kwh": "2"}', {}),
        ('{"energy_kwh": true}', {}),
        ("[1.5]", {}),
        (None, {}),
    ],
)
def test_a_status_file_is_read_or_skipped(tmp_path: Path, text: str | None, keys: Any) -> None:
    path = tmp_path / "status.json"
    if text is not None:
        path.write_text(text)
    assert read_status(path) == keys


def run_script(env: dict[str, str], out: Path, log: Path) -> subprocess.Popen[bytes]:
    """examples/train_script.py on 24 reviews, 8 a step, 4 epochs: 12 steps; checkpoints
    only on SIGTERM."""
    argv = [sys.executable, str(SCRIPT), "--output-dir", str(out), "--limit", "24"]
    argv += ["--epochs", "4", "--max-length", str(MAX_LENGTH), "--save-steps", "100"]
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)


def steps_done(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["steps"])
    except (OSError, ValueError, KeyError):
        return 0


def test_the_script_suspends_on_sigterm_and_resumes_to_the_same_end(
    tokenizer: Any, tmp_path: Path, files: dict[str, Path]
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = tmp_path / "out"
    log = tmp_path / "script.log"
    child = run_script(env, out, log)
    deadline = time.monotonic() + 120
    while steps_done(files["result"]) < 2 and child.poll() is None:
        assert time.monotonic() < deadline, "the script wrote no progress in 120 s"
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=120) == EXIT_SUSPENDED, log.read_text()[-3000:]
    first = json.loads(files["result"].read_text())
    stopped = first["steps"]
    assert 2 <= stopped < first["total_steps"] == 12
    assert (out / f"checkpoint-{stopped}" / "trainer_state.json").is_file()
    assert (first["examples"], first["tokens_padded"]) == (8 * stopped, 8 * stopped * MAX_LENGTH)

    child = run_script({**env, "GRIDWAIT_RESUME": "1"}, out, log)
    assert child.wait(timeout=120) == 0, log.read_text()[-3000:]
    second = json.loads(files["result"].read_text())
    assert (second["steps"], second["total_steps"]) == (12, 12)  # 4 epochs of 3 steps
    assert second["examples"] == 8 * (12 - stopped)  # the resumed batches only
    assert second["tokens_padded"] == 8 * (12 - stopped) * MAX_LENGTH
    assert first["tokens_real"] + second["tokens_real"] == 4 * real_tokens(tokenizer, 24)
    assert second["final_loss"] is not None and (out / "model.safetensors").is_file()
