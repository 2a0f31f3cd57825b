"""The fine-tune trains on exactly the tokens the estimator counted, and a job split by
a suspend ends with the same optimizer steps as an uninterrupted one; gradient
accumulation, the eval set and the energy in its logs (slow: real fine-tunes); the
Trainer's parts, one by one (fast)."""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gridwait.errors import EstimateError
from gridwait.estimators.batching import Policy
from gridwait.estimators.tokens import DatasetRef, count_job_tokens
from gridwait.workers.finetune import FinetuneJob, finetune, latest_checkpoint
from tests.workers.conftest import DEMO


def job(model: Path, padding: Policy = "length-grouped", epochs: int = 2) -> FinetuneJob:
    return FinetuneJob(
        str(model),
        "sequence-classification",
        DatasetRef(str(DEMO), limit=120),
        48,
        16,
        epochs,
        1e-3,
        padding,
        7,
    )


@pytest.mark.slow
@pytest.mark.parametrize("padding", ["length-grouped", "dynamic", "max"])
def test_the_run_processes_exactly_the_estimated_tokens(
    tiny_model: Path, tmp_path: Path, padding: Policy
) -> None:
    spec = job(tiny_model, padding)
    result = finetune(spec, tmp_path / "ckpt", threading.Event(), tmp_path / "model")
    count = count_job_tokens(
        spec.model,
        spec.data,
        spec.max_length,
        spec.batch_size,
        spec.epochs,
        spec.padding,
        spec.seed,
    )
    assert (result.tokens_real, result.tokens_padded) == (count.real, count.padded)
    assert result.steps == result.total_steps == count.batches
    assert not result.suspended and (tmp_path / "model" / "config.json").exists()
    assert (
        result.final_loss is not None and result.accuracy is not None and 0 <= result.accuracy <= 1
    )


class StopAfter(threading.Event):
    """Set itself after `n` checks: the stop flag as seen from the training loop."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0 or super().is_set()


@pytest.mark.slow
def test_suspend_and_resume_end_with_the_same_steps(tiny_model: Path, tmp_path: Path) -> None:
    spec = job(tiny_model)
    whole = finetune(spec, tmp_path / "whole", threading.Event())
    first = finetune(spec, tmp_path / "split", StopAfter(5))
    assert first.suspended and first.steps == 6 and first.checkpoint
    assert latest_checkpoint(tmp_path / "split") == Path(first.checkpoint)
    second = finetune(spec, tmp_path / "split", threading.Event())
    assert not second.suspended
    assert second.steps == whole.steps == whole.total_steps
    # the two segments together processed exactly the uninterrupted run's tokens
    assert first.tokens_padded + second.tokens_padded == whole.tokens_padded


@pytest.mark.slow
def test_accumulation_eval_and_the_energy_in_the_logs(
    tiny_model: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Two batches a step: half the optimizer steps, the same tokens. The eval set is
    evaluated once at the end on the tokens the estimator counts for it. The callback puts
    the worker's energy in the logs the integrations (here the console's) receive."""
    held_out = DatasetRef(str(DEMO), limit=40)
    spec = replace(job(tiny_model, epochs=1), accumulation=2, eval=held_out)
    spec = replace(spec, data=DatasetRef(str(DEMO), limit=112))
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"energy_kwh": 0.25, "emissions_g": 12.5}))
    result = finetune(spec, tmp_path / "ckpt", threading.Event(), status_file=status)
    count = count_job_tokens(str(tiny_model), spec.data, 48, 16, 1, spec.padding, 7)
    assert count.batches == 7  # 112 examples in batches of 16: the last step has one
    assert result.steps == result.total_steps == math.ceil(count.batches / 2) == 4
    assert (result.tokens_real, result.tokens_padded) == (count.real, count.padded)
    evaluation = result.evaluation
    assert evaluation is not None and evaluation.examples == 40
    eval_count = count_job_tokens(str(tiny_model), held_out, 48, 16, 1, spec.padding, 7)
    assert evaluation.tokens_padded == eval_count.padded  # what the estimate charges
    assert evaluation.loss is not None and math.isfinite(evaluation.loss)
    assert evaluation.accuracy is not None and 0 <= evaluation.accuracy <= 1
    logged = capfd.readouterr().out
    assert "'gridwait/energy_kwh': '0.25'" in logged  # the console prints them as text
    assert "'gridwait/emissions_g': '12.5'" in logged


# ---- the Trainer's parts ------------------------------------------------------------------


def test_batches_yield_the_planned_batches_in_order() -> None:
    from gridwait.workers.trainer import Batches

    sampler = Batches([np.array([3, 1]), np.array([0]), np.array([2, 4])])
    assert len(sampler) == 3 and list(sampler) == [[3, 1], [0], [2, 4]]


@pytest.mark.parametrize(
    ("width", "classify", "labels"),
    [
        (None, True, [1, 0]),  # dynamic: to the longest row; class labels
        (4, False, [[5, 6, 7, -100], [8, -100, -100, -100]]),  # max length; LM: pad ignored
    ],
)
def test_collator_pads_masks_and_labels(
    width: int | None, classify: bool, labels: list[object]
) -> None:
    from gridwait.workers.trainer import Collator

    batch = Collator(pad=0, width=width, classify=classify)(
        [{"input_ids": [5, 6, 7], "label": 1}, {"input_ids": [8], "label": 0}]
    )
    n = width or 3
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0][:n], [8, 0, 0, 0][:n]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0][:n], [1, 0, 0, 0][:n]]
    assert batch["labels"].tolist() == labels


def test_last_epoch_counts_only_the_last_epoch() -> None:
    import torch

    from gridwait.workers.trainer import LastEpoch

    metrics = LastEpoch(from_batch=2)
    inputs = {"labels": torch.tensor([1, 0]), "input_ids": torch.zeros((2, 5))}
    logits = {"logits": torch.tensor([[0.0, 1.0], [0.0, 1.0]])}  # predicts 1, 1
    metrics.add(1, 9.0, logits, inputs, classify=True)  # the first epoch: not counted
    metrics.add(2, 1.0, logits, inputs, classify=True)
    metrics.add(3, float("nan"), logits, inputs, classify=True)  # a NaN loss is skipped
    assert metrics.loss() == 1.0 and metrics.accuracy() == 0.5
    assert metrics.padded == 2 * 10  # two batches of 2 x 5 positions
    assert LastEpoch(0).loss() is None and LastEpoch(0).accuracy() is None


@pytest.mark.parametrize(
    ("stop", "step", "stops"),
    [(False, 3, False), (True, 3, True), (True, 10, False)],  # the last step needs no checkpoint
)
def test_the_stop_event_saves_and_stops_mid_run(stop: bool, step: int, stops: bool) -> None:
    """The worker's own fine-tune stops through the callback's `stop`, not SIGTERM."""
    from gridwait.integrations.transformers import GridwaitCallback, GridwaitEnv

    event = threading.Event()
    if stop:
        event.set()
    control: Any = SimpleNamespace(should_save=False, should_training_stop=False)
    state: Any = SimpleNamespace(global_step=step, max_steps=10)
    callback = GridwaitCallback(env=GridwaitEnv.inside(None), stop=event)
    callback.on_step_end(None, state, control)  # type: ignore[arg-type]
    assert control.should_save is stops and control.should_training_stop is stops
    assert callback.suspended is stops


@pytest.fixture(scope="module")
def tiny_gpt(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-layer GPT-2 with the tiny BERT's WordPiece tokenizer."""
    import shutil

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model / name, folder / name)
    vocab = len(json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"])
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sequence-classification", "causal-lm"])
def test_accumulation_leaves_the_loss_per_item(
    task: str,
    tiny_model: Path,
    tiny_gpt: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """With a learning rate too small to move the weights, three batches a step give the
    loss one batch a step gives, both the run's stored loss and Trainer's logged
    train_loss (what report_to receives): neither multiplied (a classifier's batch mean
    taken as already divided by the step's items) nor divided (a causal LM's loss divided
    by the items of the whole step)."""
    model = tiny_model if task == "sequence-classification" else tiny_gpt
    base = replace(
        job(model, epochs=1), task=task, learning_rate=1e-9, data=DatasetRef(str(DEMO), limit=80)
    )
    one = finetune(base, tmp_path / "one", threading.Event())
    logged_one = train_loss(capfd.readouterr().out)
    three = finetune(replace(base, accumulation=3), tmp_path / "three", threading.Event())
    logged_three = train_loss(capfd.readouterr().out)
    assert (one.total_steps, three.total_steps) == (5, 2)
    assert one.final_loss is not None and three.final_loss is not None
    assert three.final_loss == pytest.approx(one.final_loss, rel=0.02)
    assert logged_three == pytest.approx(logged_one, rel=0.05)


def train_loss(console: str) -> float:
    """The train_loss Trainer logged (its console callback prints the logs)."""
    found = re.findall(r"'train_loss': '([0-9.]+)'", console)
    assert found, console[-2000:]
    return float(found[-1])


def test_an_eval_label_the_training_never_saw_fails_before_training(
    tiny_model: Path, tmp_path: Path
) -> None:
    held_out = tmp_path / "eval.csv"
    held_out.write_text("text,label\nfine,1\nso-so,maybe\n")
    spec = replace(job(tiny_model), eval=DatasetRef(str(held_out)))
    with pytest.raises(EstimateError, match=r"eval: label 'maybe' \(example 2\) is not among"):
        finetune(spec, tmp_path / "ckpt", threading.Event())
    assert not (tmp_path / "ckpt").exists()  # nothing trained
