"""The batching policy, shared by the token estimator and the fine-tune worker.

One function decides which examples go into which batch, epoch by epoch, from the
example lengths and a seed. The estimator counts padded tokens from it and the worker
feeds the very same batches to the model, so the estimate and the run cannot disagree.

Policies:
- `max`: shuffled batches, every sequence padded to max_length.
- `dynamic`: shuffled batches, each padded to its longest sequence.
- `length-grouped`: shuffle, cut into mega-batches of 100 batches, sort each by length
  and cut it into batches (transformers' LengthGroupedSampler does the same with 50),
  then shuffle the batch order; sequences of similar length share a batch. On 60,000
  real docstring paragraphs at max_length 512 and batch 32 the padded/real ratio is
  1.18 with mega-batches of 50 and 1.09 with 100 (benchmarks/tokens.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Policy = Literal["length-grouped", "dynamic", "max"]
POLICIES: tuple[Policy, ...] = ("length-grouped", "dynamic", "max")
MEGABATCH = 100
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TokenCount:
    """Tokens one training run processes (all epochs), padding included."""

    examples: int
    epochs: int
    batches: int
    """Optimizer steps (one per batch; no gradient accumulation)."""
    real: int
    padded: int
    """Real plus padding tokens: what the model computes on."""
    mean_padded_length: float

    @property
    def padding_ratio(self) -> float:
        return self.padded / self.real if self.real else 1.0


def _epoch_order(
    lengths: IntArray, batch_size: int, policy: Policy, rng: np.random.Generator
) -> IntArray:
    """Example order whose consecutive chunks of `batch_size` are the epoch's batches."""
    order = rng.permutation(len(lengths))
    if policy != "length-grouped":
        return order
    size = batch_size * MEGABATCH
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    if not groups:
        return order
    return np.concatenate([g[np.argsort(-lengths[g], kind="stable")] for g in groups])


def epoch_batches(
    lengths: IntArray, batch_size: int, policy: Policy, seed: int, epoch: int
) -> list[IntArray]:
    """The example indices of every batch of one epoch, in training order."""
    rng = np.random.default_rng([seed, epoch])
    order = _epoch_order(lengths, batch_size, policy, rng)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if policy == "length-grouped":
        return [batches[i] for i in rng.permutation(len(batches))]
    return batches


def plan_batches(
    lengths: IntArray, batch_size: int, policy: Policy, seed: int, epochs: int
) -> list[IntArray]:
    """All batches of all epochs, in training order."""
    return [b for e in range(epochs) for b in epoch_batches(lengths, batch_size, policy, seed, e)]


def batch_width(lengths: IntArray, batch: IntArray, policy: Policy, max_length: int) -> int:
    """The padded sequence length of one batch."""
    return max_length if policy == "max" else int(lengths[batch].max())


EXACT_EPOCHS = 4
"""Epochs counted exactly; the padding of later ones varies by well under 1 % (shuffles)."""


def count_tokens(
    lengths: IntArray, batch_size: int, policy: Policy, seed: int, epochs: int, max_length: int
) -> TokenCount:
    """Real and padded tokens under `policy`, vectorised (1 M examples: well under 1 s).

    The first EXACT_EPOCHS epochs are counted batch by batch (each epoch's shuffle pads
    differently); further epochs are their mean, so the time taken does not grow with
    `epochs`."""
    n = len(lengths)
    padded = 0
    counted = min(epochs, EXACT_EPOCHS)
    for epoch in range(counted):
        if policy == "max":
            padded += n * max_length
            continue
        order = _epoch_order(lengths, batch_size, policy, np.random.default_rng([seed, epoch]))
        ordered = lengths[order]
        full = (n // batch_size) * batch_size
        if full:
            padded += int(ordered[:full].reshape(-1, batch_size).max(axis=1).sum()) * batch_size
        if full < n:
            padded += int(ordered[full:].max()) * (n - full)
    if counted < epochs:
        padded = round(padded * epochs / counted)
    batches = -(-n // batch_size) * epochs
    return TokenCount(
        examples=n,
        epochs=epochs,
        batches=batches,
        real=int(lengths.sum()) * epochs,
        padded=padded,
        mean_padded_length=padded / (n * epochs) if n else 0.0,
    )
