"""Token counting: speed on 1 M short examples, and the padded/real ratio of the three
batching policies on a real text corpus found offline.

    python benchmarks/tokens.py [--examples 1000000]   -> prints JSON

The corpus is the docstrings of the Python standard library and the installed packages,
split into paragraphs: real English text with a realistic, long-tailed length mix.
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import random
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from gridwait.estimators.batching import POLICIES, count_tokens
from gridwait.estimators.tokens import DatasetRef, example_lengths

WORDS = [
    "the",
    "this",
    "great",
    "terrible",
    "product",
    "works",
    "broke",
    "arrived",
    "quickly",
    "late",
    "would",
    "buy",
    "again",
    "never",
    "recommend",
    "battery",
    "screen",
    "sound",
    "quality",
    "price",
    "value",
    "comfortable",
    "noisy",
    "cheap",
    "solid",
    "refund",
    "love",
    "hate",
    "okay",
    "fine",
]


def short_examples(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24))) for _ in range(n)]


def docstring_paragraphs(limit: int = 60_000) -> list[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    out: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
                continue
            for node in ast.walk(tree):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    doc = ast.get_docstring(node)
                    if doc:
                        out.extend(
                            " ".join(p.split()) for p in doc.split("\n\n") if len(p.split()) >= 3
                        )
            if len(out) >= limit:
                return out[:limit]
    return out


def write(texts: list[str], path: Path) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([t, i % 2] for i, t in enumerate(texts))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=1_000_000)
    args = parser.parse_args()
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        short = write(short_examples(args.examples), Path(tmp) / "short.csv")
        start = time.perf_counter()
        lengths = example_lengths("builtin:minilm", DatasetRef(str(short)), 128)
        count = count_tokens(lengths, 32, "length-grouped", 0, 1, 128)
        seconds = time.perf_counter() - start
        result["speed"] = {
            "examples": len(lengths),
            "seconds": round(seconds, 2),
            "examples_per_s": round(len(lengths) / seconds),
            "mean_tokens": round(float(lengths.mean()), 2),
            "padded_tokens": count.padded,
        }
        corpus = docstring_paragraphs()
        data = write(corpus, Path(tmp) / "docs.csv")
        ratios: dict[str, dict[str, float]] = {}
        for max_length in (128, 512):
            lengths = example_lengths("builtin:minilm", DatasetRef(str(data)), max_length)
            ratios[f"max_length_{max_length}"] = {
                policy: round(count_tokens(lengths, 32, policy, 0, 1, max_length).padding_ratio, 3)
                for policy in POLICIES
            }
            ratios[f"max_length_{max_length}"]["median_tokens"] = float(np.median(lengths))
            ratios[f"max_length_{max_length}"]["p95_tokens"] = float(np.percentile(lengths, 95))
        result["padding_ratio_batch_32"] = ratios
        result["corpus"] = (
            f"{len(corpus)} docstring paragraphs (Python {sys.version.split()[0]} stdlib + site-packages)"
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
