from __future__ import annotations

from pathlib import Path

import pytest

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


@pytest.fixture(scope="session")
def word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tokenizer whose every word is one token: a text of k words is k + 2 tokens."""
    from gridwait.workers.tiny import build_tokenizer

    directory = tmp_path_factory.mktemp("word-model")
    build_tokenizer([" ".join(WORDS)] * 50, directory, vocab_size=200)
    (directory / "config.json").write_text(
        '{"model_type": "bert", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,'
        ' "intermediate_size": 256, "vocab_size": 200, "max_position_embeddings": 512, "type_vocab_size": 2}'
    )
    return directory
