"""Where the project's shared folder (real traces, recorded fixtures) is: GRIDWAIT_SHARED,
else `shared` beside the checkout, else /work/shared (a clone elsewhere, as CI makes)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    named = os.environ.get("GRIDWAIT_SHARED")
    beside = Path(__file__).resolve().parents[2] / "shared"
    candidates = [Path(named)] if named else [beside, Path("/work/shared")]
    return next((c for c in candidates if (c / "data").is_dir()), candidates[0])


SHARED = shared_dir()
