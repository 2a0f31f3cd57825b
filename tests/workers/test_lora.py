"""LoRA through PEFT on the builtin model: only the adapters (and the classifier head)
train, the count is the estimator's, and the estimate is below the full fine-tune's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from gridwait.estimators.lora import lora_trainable
from gridwait.estimators.tokens import DatasetRef, model_path
from gridwait.spec import LoraSpec
from gridwait.workers.finetune import FinetuneJob, finetune
from tests.conftest import Cli, write_spec
from tests.workers.conftest import DEMO

MINILM = "builtin:minilm"


def expected_trainable(r: int, targets: int) -> int:
    """From the config alone: each adapted d x d projection of each layer gains A (r x d)
    and B (d x r); the classifier head (d x 2 + 2) trains too."""
    config = json.loads((Path(model_path(MINILM)) / "config.json").read_text())
    d, layers = config["hidden_size"], config["num_hidden_layers"]
    return layers * targets * 2 * r * d + (d * 2 + 2)


def test_the_estimator_counts_what_peft_trains() -> None:
    default = lora_trainable(MINILM, "sequence-classification", 8, 16, 0.05, None)
    assert default == expected_trainable(8, 2)  # PEFT's BERT default: query and value
    three = lora_trainable(MINILM, "sequence-classification", 4, 8, 0.0, ("query", "key", "value"))
    assert three == expected_trainable(4, 3)


@pytest.mark.slow
def test_a_lora_run_trains_only_the_adapters(tmp_path: Path) -> None:
    job = FinetuneJob(
        MINILM,
        "sequence-classification",
        DatasetRef(str(DEMO), limit=32),
        32,
        16,
        1,
        1e-3,
        "length-grouped",
        7,
        LoraSpec(r=8),
    )
    result = finetune(job, tmp_path / "ckpt", threading.Event(), tmp_path / "adapter")
    assert result.trainable_params == expected_trainable(8, 2)
    assert result.model_params > 100 * result.trainable_params  # MiniLM: 22.8 M, 74.5 k train
    assert result.steps == result.total_steps == 2 and not result.suspended
    assert (tmp_path / "adapter" / "adapter_config.json").exists()  # PEFT saves the adapter


@pytest.mark.slow
def test_a_lora_estimate_is_below_the_full_one(cli: Cli, env: Path, tmp_path: Path) -> None:
    body = (
        f'name = "x"\nmodel = "{MINILM}"\ndeadline = "36h"\nmax_length = 64\n'
        f'[dataset]\npath = "{DEMO}"\nlimit = 200\n'
    )
    full = json.loads(cli("estimate", write_spec(tmp_path, body, "full.toml"), "--json").out)
    lora_body = 'method = "lora"\n' + body + "[lora]\nr = 8\n"
    lora = json.loads(cli("estimate", write_spec(tmp_path, lora_body, "lora.toml"), "--json").out)
    assert lora["tokens_padded"] == full["tokens_padded"]
    assert lora["flops"] < full["flops"] and lora["energy_kwh"] < full["energy_kwh"]
    assert "LoRA: T = 74,498 of" in lora["method"]
