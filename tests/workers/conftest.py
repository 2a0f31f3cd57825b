from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "gridwait" / "data" / "demo_reviews.csv"
