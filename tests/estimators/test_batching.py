"""The batching policy shared by estimator and worker."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridwait.estimators.batching import (
    POLICIES,
    batch_width,
    count_tokens,
    epoch_batches,
    plan_batches,
)

lengths_strategy = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=300).map(
    lambda xs: np.array(xs, dtype=np.int64)
)


def test_counts_by_construction() -> None:
    # 4 examples of lengths 2, 2, 10, 10; batch 2
    lengths = np.array([2, 10, 2, 10], dtype=np.int64)
    grouped = count_tokens(lengths, 2, "length-grouped", seed=0, epochs=1, max_length=16)
    assert grouped.real == 24 and grouped.padded == 24  # the two short and the two long together
    padded_max = count_tokens(lengths, 2, "max", seed=0, epochs=3, max_length=16)
    assert padded_max.padded == 4 * 16 * 3 and padded_max.real == 72 and padded_max.batches == 6
    dynamic = count_tokens(lengths, 2, "dynamic", seed=0, epochs=1, max_length=16)
    expected = sum(
        int(lengths[b].max()) * len(b) for b in epoch_batches(lengths, 2, "dynamic", 0, 0)
    )
    assert dynamic.padded == expected and 24 <= dynamic.padded <= 40


@given(
    lengths=lengths_strategy,
    batch=st.integers(1, 40),
    seed=st.integers(0, 5),
    epochs=st.integers(1, 3),
)
@settings(max_examples=60, deadline=None)
def test_count_matches_the_batches_the_worker_trains_on(
    lengths: np.ndarray, batch: int, seed: int, epochs: int
) -> None:
    for policy in POLICIES:
        count = count_tokens(lengths, batch, policy, seed, epochs, max_length=64)
        batches = plan_batches(lengths, batch, policy, seed, epochs)
        assert count.batches == len(batches)
        assert count.padded == sum(batch_width(lengths, b, policy, 64) * len(b) for b in batches)
        assert count.real == int(lengths.sum()) * epochs
        assert count.padded >= count.real


@given(lengths=lengths_strategy, batch=st.integers(1, 40))
@settings(max_examples=40, deadline=None)
def test_each_example_once_per_epoch(lengths: np.ndarray, batch: int) -> None:
    for policy in POLICIES:
        seen = np.concatenate(epoch_batches(lengths, batch, policy, 1, 0))
        assert sorted(seen.tolist()) == list(range(len(lengths)))


def test_length_grouping_pads_least() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 120, size=5000).astype(np.int64)
    ratio = {p: count_tokens(lengths, 32, p, 0, 1, 128).padding_ratio for p in POLICIES}
    assert ratio["length-grouped"] < 1.15 < ratio["dynamic"] < ratio["max"]


def test_seeds_and_epochs_change_the_order_not_the_examples() -> None:
    lengths = np.arange(1, 101, dtype=np.int64)
    a = [b.tolist() for b in epoch_batches(lengths, 8, "dynamic", 1, 0)]
    assert a == [b.tolist() for b in epoch_batches(lengths, 8, "dynamic", 1, 0)]
    assert a != [b.tolist() for b in epoch_batches(lengths, 8, "dynamic", 1, 1)]
    assert a != [b.tolist() for b in epoch_batches(lengths, 8, "dynamic", 2, 0)]


@pytest.mark.parametrize("policy", POLICIES)
def test_empty_partial_last_batch(policy: str) -> None:
    lengths = np.array([3, 4, 5], dtype=np.int64)
    count = count_tokens(lengths, 2, policy, 0, 1, 8)  # type: ignore[arg-type]
    assert count.batches == 2
