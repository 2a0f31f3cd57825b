"""The fine-tune trains on exactly the tokens the estimator counted, and a job split by
a suspend ends with the same optimizer steps as an uninterrupted one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gridwait.estimators.tokens import DatasetRef, count_job_tokens
from gridwait.workers.finetune import FinetuneJob, finetune, latest_checkpoint
from tests.workers.conftest import DEMO

pytestmark = pytest.mark.slow


def job(model: Path, padding: str = "length-grouped", epochs: int = 2) -> FinetuneJob:
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
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("padding", ["length-grouped", "dynamic", "max"])
def test_the_run_processes_exactly_the_estimated_tokens(
    tiny_model: Path, tmp_path: Path, padding: str
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
