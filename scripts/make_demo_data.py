"""Write gridwait/data/demo_reviews.csv: a SYNTHETIC labelled sentiment dataset.

No PyPI package ships a labelled text dataset usable offline, so gridwait writes its own
for the demo and the example job. Sentences are assembled from templates with a fixed
seed; label 1 = positive, 0 = negative. Re-run to regenerate (same output every time).

    python scripts/make_demo_data.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "gridwait" / "data" / "demo_reviews.csv"
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


def main(rows: int = 480, seed: int = 7) -> None:
    rng = random.Random(seed)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(rows):
            label = i % 2
            verbs, tails = (GOOD, GOOD_TAIL) if label else (BAD, BAD_TAIL)
            sentence = f"{rng.choice(THINGS).capitalize()} {rng.choice(verbs)}. {rng.choice(tails)}"
            if rng.random() < 0.3:  # some longer reviews, so padding policies differ
                sentence += (
                    f" I used it for {rng.randint(2, 30)} days and " + rng.choice(verbs) + "."
                )
            writer.writerow([sentence.strip(), label])


if __name__ == "__main__":
    main()
