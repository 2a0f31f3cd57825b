"""Things built locally for tests, benchmarks and the demo, on machines with no network:
a SYNTHETIC labelled review dataset, a WordPiece tokenizer trained with `tokenizers` on
given texts, and a randomly initialised BertForSequenceClassification of a given size."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

THINGS = [
    "the headphones",
    "this kettle",
    "the hiking boots",
    "the novel",
    "this laptop stand",
    "the coffee grinder",
    "the desk lamp",
    "this backpack",
    "the phone case",
    "the blender",
    "the film",
    "this keyboard",
    "the tent",
    "the running shoes",
    "this board game",
]
GOOD = [
    "works perfectly",
    "is a delight to use",
    "exceeded my expectations",
    "feels solid and well made",
    "was worth every penny",
    "arrived quickly and works great",
    "is the best I have owned",
    "made my mornings better",
    "is comfortable all day",
    "does exactly what it promises",
]
BAD = [
    "stopped working after a week",
    "is a waste of money",
    "feels cheap and flimsy",
    "broke on the first day",
    "was a huge disappointment",
    "arrived damaged and late",
    "is uncomfortable and noisy",
    "does not do what it promises",
    "fell apart quickly",
    "is the worst purchase this year",
]
GOOD_TAIL = [
    "I would buy it again.",
    "Highly recommended.",
    "Five stars.",
    "My family loves it too.",
    "",
]
BAD_TAIL = ["I want a refund.", "Avoid it.", "One star.", "Customer service never replied.", ""]


def synthetic_reviews(rows: int = 480, seed: int = 7) -> list[tuple[str, int]]:
    """(text, label) pairs assembled from templates: label 1 positive, 0 negative. About
    a third get a second sentence, so lengths vary and padding policies differ."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        label = i % 2
        verbs, tails = (GOOD, GOOD_TAIL) if label else (BAD, BAD_TAIL)
        sentence = f"{rng.choice(THINGS).capitalize()} {rng.choice(verbs)}. {rng.choice(tails)}"
        if rng.random() < 0.3:
            sentence += f" I used it for {rng.randint(2, 30)} days and " + rng.choice(verbs) + "."
        out.append((sentence.strip(), label))
    return out


def write_reviews(path: Path, rows: int = 480, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(synthetic_reviews(rows, seed))
    return path


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
