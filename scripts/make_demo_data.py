"""Write gridwait/data/demo_reviews.csv: a SYNTHETIC labelled sentiment dataset, and
demo_reviews_eval.csv, 120 more reviews drawn with another seed, to evaluate on.

No PyPI package ships a labelled text dataset usable offline, so gridwait writes its own
for the demo and the example job (gridwait.workers.tiny.synthetic_reviews, fixed seed:
the same file every time).

    python scripts/make_demo_data.py
"""

from __future__ import annotations

from pathlib import Path

from gridwait.workers.tiny import write_reviews

DATA = Path(__file__).resolve().parents[1] / "gridwait" / "data"

if __name__ == "__main__":
    write_reviews(DATA / "demo_reviews.csv")
    write_reviews(DATA / "demo_reviews_eval.csv", rows=120, seed=8)
