"""Parameter counts of a model from its config.json, without loading weights.

The common families (BERT, RoBERTa, DistilBERT, GPT-2, Llama/Mistral/Qwen2) are counted
from the config's shapes in microseconds; anything else is built on torch's `meta`
device (no memory, but a transformers import of a few seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from gridwait.errors import EstimateError, first_line
from gridwait.estimators.tokens import model_path


@dataclass(frozen=True)
class ModelInfo:
    parameters: int
    embedding_parameters: int
    """Token, position and type embeddings: looked up, not multiplied, so they add no
    training FLOPs (Kaplan et al. 2020 count N without them)."""
    layers: int
    hidden: int
    trainable: int | None = None
    """Parameters that train when not all do (LoRA adapters and a head), else None."""

    @property
    def non_embedding(self) -> int:
        return self.parameters - self.embedding_parameters

    def flops_per_token(self, context: float) -> float:
        """Training FLOPs per token: 6N for the weights (forward 2N + backward 4N) plus the
        attention term 6 x layers x context x hidden (Kaplan et al. 2020, section 2.1).
        With LoRA the frozen weights cost 4 (forward 2, the activations' gradient 2: no
        weight gradient) and the T trained ones 6: 4N + 6T."""
        attention = 6.0 * self.layers * context * self.hidden
        if self.trainable is None:
            return 6.0 * self.non_embedding + attention
        return 4.0 * self.non_embedding + 6.0 * self.trainable + attention

    def forward_flops_per_token(self, context: float) -> float:
        """FLOPs per token of a forward pass alone (evaluation): 2N + 2 x layers x context x
        hidden (Kaplan et al. 2020, table 1)."""
        return 2.0 * self.non_embedding + 2.0 * self.layers * context * self.hidden

    @property
    def flops_rule(self) -> str:
        if self.trainable is None:
            return "6N+attention FLOPs"
        return f"4N+6T+attention FLOPs (LoRA: T = {self.trainable:,} of {self.parameters:,} train)"


@lru_cache(maxsize=16)
def model_info(model: str, task: str = "sequence-classification", labels: int = 2) -> ModelInfo:
    config = _config(model)
    counted = from_config(config, task, labels)
    return counted if counted is not None else _meta_count(model, task, labels)


def _config(model: str) -> dict[str, Any]:
    local = Path(model_path(model)) / "config.json"
    if local.is_file():
        try:
            data = json.loads(local.read_text())
        except ValueError:
            raise EstimateError(f"model {model}: config.json is not JSON") from None
        if not isinstance(data, dict):
            raise EstimateError(f"model {model}: config.json is not an object")
        return data
    try:
        from transformers import AutoConfig
    except ImportError:
        raise EstimateError(
            "estimating a hub model needs transformers (install gridwait[worker])"
        ) from None
    try:
        return dict(AutoConfig.from_pretrained(model).to_dict())
    except (OSError, ValueError) as exc:
        first = first_line(exc)
        raise EstimateError(f"model {model}: cannot read its config: {first}") from None


def from_config(c: dict[str, Any], task: str, labels: int) -> ModelInfo | None:
    """Exact counts for the families whose shapes are plain in the config, else None."""
    kind = c.get("model_type")
    try:
        if kind in ("bert", "roberta", "xlm-roberta"):
            return _bert(c, task, labels)
        if kind == "gpt2":
            return _gpt2(c, task, labels)
        if kind in ("llama", "mistral", "qwen2"):
            return _llama(c, task, labels)
    except (KeyError, TypeError):
        return None
    return None


def _bert(c: dict[str, Any], task: str, labels: int) -> ModelInfo | None:
    if task != "sequence-classification":
        return None
    h, i, n, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    embedding = (v + c["max_position_embeddings"] + c.get("type_vocab_size", 2)) * h
    layer = 4 * (h * h + h) + (h * i + i) + (i * h + h) + 2 * 2 * h
    head = (h * h + h) + (
        h * labels + labels
    )  # BERT: pooler + classifier; RoBERTa: dense + out_proj
    total = embedding + 2 * h + n * layer + head
    return ModelInfo(total, embedding, n, h)


def _gpt2(c: dict[str, Any], task: str, labels: int) -> ModelInfo:
    h, n, v, p = c["n_embd"], c["n_layer"], c["vocab_size"], c["n_positions"]
    i = c.get("n_inner") or 4 * h
    embedding = (v + p) * h
    layer = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h)
    head = h * labels if task == "sequence-classification" else 0  # the LM head is tied to wte
    return ModelInfo(embedding + n * layer + 2 * h + head, embedding, n, h)


def _llama(c: dict[str, Any], task: str, labels: int) -> ModelInfo:
    h, i, n, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    heads = c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    head_dim = c.get("head_dim") or h // heads
    bias = 1 if c.get("model_type") == "qwen2" else 0  # Qwen2 has q/k/v biases
    attention = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h
    attention += bias * (heads * head_dim + 2 * kv * head_dim)
    layer = attention + 3 * h * i + 2 * h
    embedding = v * h
    if task == "sequence-classification":
        head = h * labels
    else:
        head = 0 if c.get("tie_word_embeddings", False) else v * h
    return ModelInfo(embedding + n * layer + h + head, embedding, n, h)


def meta_model(model: str, task: str, labels: int = 2) -> tuple[Any, Any]:
    """The model for `task` built on torch's meta device (shapes, no weights) and its
    config. EstimateError without torch and transformers, or without a readable config."""
    try:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSequenceClassification,
        )
    except ImportError:
        raise EstimateError(
            "estimating this model needs torch and transformers (gridwait[worker])"
        ) from None
    try:
        config = AutoConfig.from_pretrained(model_path(model), num_labels=labels)
    except (OSError, ValueError) as exc:
        first = first_line(exc)
        raise EstimateError(f"model {model}: cannot read its config: {first}") from None
    factory: Any = (
        AutoModelForCausalLM if task == "causal-lm" else AutoModelForSequenceClassification
    )
    with torch.device("meta"):
        return factory.from_config(config), config


def _meta_count(model: str, task: str, labels: int) -> ModelInfo:
    import torch

    net, config = meta_model(model, task, labels)
    total = sum(p.numel() for p in net.parameters())
    embedding = sum(
        p.numel()
        for m in net.modules()
        if isinstance(m, torch.nn.Embedding)
        for p in m.parameters(recurse=False)
    )
    layers: int = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 0) or 0
    hidden: int = getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0) or 0
    return ModelInfo(int(total), int(embedding), int(layers), int(hidden))
