"""Small BERT classifiers built locally: a WordPiece tokenizer trained with `tokenizers`
on the texts given, and a randomly initialised BertForSequenceClassification of the size
asked. For tests and benchmarks on machines with no network (nothing is downloaded)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SIZES = {
    "tiny": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 256,
    },
    "small": {
        "hidden_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 512,
    },
    "medium": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    },
}


def build_tokenizer(texts: Iterable[str], directory: Path, vocab_size: int = 2000) -> Path:
    """Train a lower-casing WordPiece tokenizer (BERT's special tokens) into tokenizer.json."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    tokenizer.train_from_iterator(texts, trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tokenizer.json"
    tokenizer.save(str(path))
    (directory / "tokenizer_config.json").write_text(
        '{"tokenizer_class": "BertTokenizerFast", "pad_token": "[PAD]", "unk_token": "[UNK]",'
        ' "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]",'
        ' "do_lower_case": true}'
    )
    return path


def build_model(
    texts: Iterable[str], directory: Path, size: str = "small", labels: int = 2, seed: int = 0
) -> Path:
    """A tokenizer and a fresh BERT classifier of `size` saved in `directory`."""
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer_path = build_tokenizer(texts, directory)
    vocab = Tokenizer.from_file(str(tokenizer_path)).get_vocab_size()
    shape: dict[str, Any] = {"vocab_size": vocab, "max_position_embeddings": 512, **SIZES[size]}
    shape.update(num_labels=labels, pad_token_id=0)
    config = BertConfig(**shape)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory
