"""Exact token counts on datasets whose counts are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gridwait.errors import EstimateError
from gridwait.estimators.tokens import (
    DatasetRef,
    count_job_tokens,
    encode,
    example_lengths,
    load_tokenizer,
)
from tests.estimators.conftest import WORDS


def write_csv(path: Path, word_counts: list[int]) -> Path:
    lines = ["text,label"] + [
        f"{' '.join(WORDS[i % len(WORDS)] for i in range(k))},{k % 2}" for k in word_counts
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_word_is_one_token(word_model: Path) -> None:
    tokenizer = load_tokenizer(str(word_model))
    ids = encode(tokenizer, ["alpha bravo", "charlie", ""], max_length=32)
    assert [len(x) for x in ids] == [4, 3, 2]


def test_counts_with_truncation_and_epochs(word_model: Path, tmp_path: Path) -> None:
    counts = [1, 2, 3, 10, 30]  # 30 words + 2 specials is cut to max_length 16
    data = DatasetRef(str(write_csv(tmp_path / "d.csv", counts)))
    lengths = example_lengths(str(word_model), data, max_length=16)
    assert lengths.tolist() == [3, 4, 5, 12, 16]
    total = count_job_tokens(
        str(word_model), data, 16, batch_size=5, epochs=3, policy="dynamic", seed=0
    )
    assert total.real == 40 * 3 and total.padded == 5 * 16 * 3 and total.batches == 3


def test_jsonl_and_limit(word_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        "\n".join(json.dumps({"body": " ".join(WORDS[:k]), "y": 1}) for k in (1, 2, 3, 4)) + "\n"
    )
    data = DatasetRef(str(path), text_column="body", label_column="y", limit=3)
    assert example_lengths(str(word_model), data, 64).tolist() == [3, 4, 5]


class MemoryCache:
    def __init__(self) -> None:
        self.data: dict[str, np.ndarray] = {}
        self.hits = 0

    def get(self, key: str) -> np.ndarray | None:
        if key in self.data:
            self.hits += 1
        return self.data.get(key)

    def put(self, key: str, lengths: np.ndarray) -> None:
        self.data[key] = lengths


def test_cache_key_is_content_tokenizer_and_max_length(word_model: Path, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [1, 2, 3])
    cache = MemoryCache()
    data = DatasetRef(str(path))
    example_lengths(str(word_model), data, 16, cache)
    example_lengths(str(word_model), data, 16, cache)
    assert cache.hits == 1 and len(cache.data) == 1
    example_lengths(str(word_model), data, 8, cache)  # another max_length
    write_csv(path, [1, 2, 4])  # new content, same file name
    assert example_lengths(str(word_model), data, 16, cache).tolist() == [3, 4, 6]
    assert len(cache.data) == 3


@pytest.mark.parametrize(
    ("body", "column", "message"),
    [
        ("text,label\n", "text", "no examples"),
        ("words,label\nhi,1\n", "text", "no column 'text'"),
        ("text,label\nhi,\n", "text", "no label"),
    ],
)
def test_bad_datasets(
    word_model: Path, tmp_path: Path, body: str, column: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(EstimateError, match=message):
        example_lengths(str(word_model), DatasetRef(str(path), text_column=column), 16)


def test_minilm_tokenizer_matches_transformers() -> None:
    """The fast path (tokenizer.json via `tokenizers`) gives transformers' own ids."""
    from transformers import AutoTokenizer

    from gridwait.estimators.tokens import model_path

    texts = ["Hello world, this is a test!", "x " * 200, "Ünïcödé text with accents éè", ""]
    ours = encode(load_tokenizer("builtin:minilm"), texts, 16)
    theirs = AutoTokenizer.from_pretrained(model_path("builtin:minilm"))(
        texts, truncation=True, max_length=16
    )
    assert ours == [list(x) for x in theirs["input_ids"]]


def test_missing_tokenizer(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EstimateError, match="cannot load its tokenizer"):
        load_tokenizer(str(tmp_path))
