"""The models, tokenizer and data of the GPU check, all built here with no network.

Random weights from configs (the shapes of BERT-base and of Llama-style 350 M and 1.3 B
causal LMs), one WordPiece tokenizer trained on SYNTHETIC review text
(`gridwait.workers.tiny`), and CSV datasets whose every text is longer than the run's
max_length, so that each optimizer step trains on exactly batch x max_length tokens.
Embedding tables keep the usual vocabulary sizes (30,522 for BERT, 32,000 for the LMs)
although the tokenizer uses only the first few hundred ids, so that parameter counts,
the LM head's FLOPs and the optimizer's work are those of the real models.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridwait.workers.tiny import build_tokenizer, synthetic_reviews


@dataclass(frozen=True)
class ModelSpec:
    """One run of the check: a model shape, its task and the run's fixed size."""

    name: str
    family: str
    """bert (sequence classification) or llama (causal LM)"""
    shape: dict[str, Any]
    max_length: int
    batch_size: int
    steps: int
    """Optimizer steps of the run (one epoch of steps x batch_size examples)."""
    calibration: bool = True
    """In the leave-one-out pool (calibrate on the others, predict this one)."""
    same_model_as: str | None = None
    """Another run of the same model: this one is also predicted from that one alone."""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return "sequence-classification" if self.family == "bert" else "causal-lm"

    @property
    def examples(self) -> int:
        return self.steps * self.batch_size


BERT_BASE = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
}
# Llama blocks: 4 h^2 (attention) + 3 h i (gated MLP); plus 2 x 32,000 x h untied
# embedding and LM head: 24 x 12.1 M + 65.5 M = 355 M, and 24 x 48.2 M + 131 M = 1.29 B.
LLAMA_350M = {
    "vocab_size": 32000,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 2560,
}
LLAMA_1B3 = {
    "vocab_size": 32000,
    "hidden_size": 2048,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 5120,
}
TINY_BERT = {
    "vocab_size": 2000,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 256,
}
TINY_LLAMA = {
    "vocab_size": 2000,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 176,
}
SMALL_LLAMA = {**TINY_LLAMA, "hidden_size": 128, "intermediate_size": 352}

# Steps: each training loop is sized at about 30 s on an H200 at the throughput guessed
# in gpu_check.py's docstring, so that a 0.5 s power poll and a 1 s averaged power
# reading err by a few percent at most, and the four runs fit the 8 minutes twice over.
GPU_MODELS = (
    ModelSpec("bert-base-128", "bert", BERT_BASE, 128, 64, 800, same_model_as="bert-base-512"),
    ModelSpec("bert-base-512", "bert", BERT_BASE, 512, 32, 600),
    ModelSpec("llama-350m-1024", "llama", LLAMA_350M, 1024, 16, 200),
    ModelSpec("llama-1.3b-1024", "llama", LLAMA_1B3, 1024, 16, 80),
)
SMOKE_MODELS = (
    ModelSpec("bert-tiny-32", "bert", TINY_BERT, 32, 8, 6, same_model_as="bert-tiny-64"),
    ModelSpec("bert-tiny-64", "bert", TINY_BERT, 64, 8, 6),
    ModelSpec("llama-tiny-64", "llama", TINY_LLAMA, 64, 4, 6),
    ModelSpec("llama-small-64", "llama", SMALL_LLAMA, 64, 4, 6),
)


def sentences(seed: int = 11) -> list[str]:
    return [text for text, _ in synthetic_reviews(600, seed=seed)]


def build_shared_tokenizer(directory: Path, seed: int = 11) -> Path:
    """One WordPiece tokenizer for every model (ids far below every vocab_size)."""
    return build_tokenizer(sentences(seed), directory, vocab_size=2000).parent


def build_model(spec: ModelSpec, tokenizer_dir: Path, directory: Path, device: str) -> Path:
    """A randomly initialised model of `spec` with the shared tokenizer, saved in
    `directory` in fp32 (initialised on `device`: seconds on a GPU for 1.3 B)."""
    import shutil

    import torch

    directory.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / name, directory / name)
    torch.manual_seed(0)
    with torch.device(device):
        model = _instantiate(spec)
    model.save_pretrained(directory)
    del model
    return directory


def _instantiate(spec: ModelSpec) -> Any:
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        LlamaConfig,
        LlamaForCausalLM,
    )

    shape: dict[str, Any] = {**spec.shape, "pad_token_id": 0}
    if spec.family == "bert":
        shape.update(max_position_embeddings=512, num_labels=2)
        return BertForSequenceClassification(BertConfig(**shape))
    shape.update(
        max_position_embeddings=max(2048, spec.max_length),
        tie_word_embeddings=False,
        bos_token_id=2,
        eos_token_id=3,
    )
    return LlamaForCausalLM(LlamaConfig(**shape))


def write_dataset(path: Path, rows: int, min_tokens: int, seed: int = 11) -> Path:
    """`rows` (text, label) rows whose texts all exceed `min_tokens` tokens: synthetic
    review sentences strung together (the label is the first sentence's)."""
    pool = synthetic_reviews(600, seed=seed)
    words = sum(len(t.split()) for t, _ in pool) / len(pool)
    per_text = math.ceil(min_tokens / words) + 1  # at least one token per word
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(rows):
            picked = rng.choices(pool, k=per_text)
            writer.writerow([" ".join(t for t, _ in picked), picked[0][1]])
    return path
