"""LoRA against the full fine-tune of the builtin model on the same data, in one run:
gridwait's estimate of each (FLOPs, seconds, energy) and the measured training time.

    python -m benchmarks.lora [--limit 200] [--max-length 64] [--json]

Both are trained through the worker's `finetune` on the CPU, one after the other, after
a warm-up that loads torch and the model once; the ratio is what to read.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gridwait.app.deps import Deps
from gridwait.app.estimates import EstimateInput, estimate_job
from gridwait.clock import SystemClock
from gridwait.config import Settings
from gridwait.estimators.tokens import DatasetRef
from gridwait.spec import JobSpec, LoraSpec
from gridwait.workers.finetune import FinetuneJob, finetune

DEMO = Path(__file__).resolve().parents[1] / "gridwait" / "data" / "demo_reviews.csv"
MODEL = "builtin:minilm"


def estimate(tmp: Path, limit: int, max_length: int, method: str) -> dict[str, Any]:
    spec = JobSpec.model_validate(
        {
            "name": method,
            "model": MODEL,
            "method": method,
            "max_length": max_length,
            "deadline": "36h",
            "dataset": {"path": str(DEMO), "limit": limit},
        }
    )
    deps = Deps(Settings(db=tmp / f"{method}.db"), SystemClock())
    try:
        est, _ = estimate_job(deps, EstimateInput.from_spec(spec, MODEL, str(DEMO), None))
    finally:
        deps.close()
    return {
        "flops": est.flops,
        "seconds": round(est.seconds, 2),
        "energy_j": round(est.energy_j, 1),
        "method": est.method,
    }


def train(tmp: Path, limit: int, max_length: int, lora: LoraSpec | None) -> dict[str, Any]:
    job = FinetuneJob(
        MODEL,
        "sequence-classification",
        DatasetRef(str(DEMO), limit=limit),
        max_length,
        16,
        1,
        5e-4 if lora else 5e-5,
        "length-grouped",
        7,
        lora,
    )
    name = "lora" if lora else "full"
    began = time.perf_counter()
    result = finetune(job, tmp / name / "ckpt", threading.Event())
    return {
        "seconds": round(time.perf_counter() - began, 2),
        "steps": result.steps,
        "trainable_params": result.trainable_params,
        "model_params": result.model_params,
        "final_loss": result.final_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="one line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        train(tmp / "warm", 16, 16, None)  # imports, model load: paid once, before timing
        full = {
            "estimate": estimate(tmp, args.limit, args.max_length, "full"),
            "measured": train(tmp, args.limit, args.max_length, None),
        }
        lora = {
            "estimate": estimate(tmp, args.limit, args.max_length, "lora"),
            "measured": train(tmp, args.limit, args.max_length, LoraSpec()),
        }
    result = {
        "examples": args.limit,
        "max_length": args.max_length,
        "full": full,
        "lora": lora,
        "estimated_energy_ratio_lora_to_full": round(
            lora["estimate"]["energy_j"] / full["estimate"]["energy_j"], 3
        ),
        "measured_time_ratio_lora_to_full": round(
            lora["measured"]["seconds"] / full["measured"]["seconds"], 3
        ),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
