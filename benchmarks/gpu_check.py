"""The GPU check: gridwait's worker path measured on a real GPU, in one command.

    python -m benchmarks.gpu_check --out DIR [--smoke] [--budget-s S] [--only NAME ...]

On a bare GPU machine see benchmarks/README.md (the wheels to bring, the one command).
One process, no network. For each run of gpu_models.GPU_MODELS (BERT-base at 128 and 512
tokens, Llama-style 355 M and 1.3 B causal LMs at 1024; random weights; a tokenizer
trained here on synthetic text) it:
1. writes a CSV whose texts all exceed max_length and a job spec training steps x batch
   of them (one epoch, padding to max_length: every step is batch x max_length tokens);
2. counts the job's tokens and takes gridwait's cold-start estimate for them;
3. submits, plans and claims the job in a temporary SQLite database and runs gridwait's
   worker (`run_worker`: the fine-tune on the shared batching in bf16, the Sampler, the
   in-process RunReporter) with the NVML counter as the run's GPU meter and the NVML
   power integration read beside it at every sample (gpu_nvml.DualGpuMeter);
4. reads the finished run back from the database.
Then the cold-start errors, calibration on two runs predicting the third (leave one out
over the three models; and the BERT run at 128 from the one at 512, same model), the
sampler's cost per sample and against the step time, and the GPU's model, driver,
clocks, power limit and idle power before and after. gpu-check.json and gpu-check.md
are rewritten in --out after every run. `--smoke` does the same on the CPU with tiny
models, a few steps and the CPU meters (psutil or RAPL) in well under a minute.

Sizing, guessed before any measurement (H200, bf16, dense peak 989 TFLOP/s):

    run              tokens/step  GFLOP/token  TFLOP/step  step (guess)  steps  loop
    bert-base-128          8,192        0.52         4.3         35 ms     800   28 s
    bert-base-512         16,384        0.54         8.9         45 ms     600   27 s
    llama-350m-1024       16,384        2.08        34          130 ms     200   26 s
    llama-1.3b-1024       16,384        7.64       125          330 ms      80   26 s

Loops of about 30 s keep a 0.5 s power poll and the 1 s averaged power reading to a few
percent. Fixed costs: imports ~15 s, idle power 2 x 10 s, and per run building,
saving and loading the fp32 weights (0.4, 0.4, 1.4 and 5.2 GB; the trained model is
saved again) and tokenising: ~100 s in all. About 3.6 minutes in all; 5.5 at half the
guessed throughput. A time guard cuts a run's steps (or skips it) when gridwait's own
estimate, calibrated on the runs before it, says it would not fit in --budget-s (450 s);
a watchdog at budget + 20 s writes what was measured and exits with code 2.

Runs share one process, so their durations lack the worker process's start-up (Python
and torch imports, `import_s` in the JSON) that a production run pays.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ENV_DEFAULTS = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
MISSING = "gridwait's dependencies are missing: install the wheels (benchmarks/README.md)"
MACHINE = ("torch", "transformers", "accelerate", "pynvml", "psutil", "numpy", "tokenizers")
"""What the GPU machine itself must have (the wheels do not bring it)."""


@dataclass(frozen=True)
class Mode:
    smoke: bool
    budget_s: float
    hard_s: float
    sample_s: float
    idle_s: float
    min_steps: int
    reserve_s: float
    """Kept back for idle power after the runs and for writing the results."""


GPU_MODE = Mode(False, 450.0, 470.0, 1.0, 10.0, 10, 15.0)
SMOKE_MODE = Mode(True, 55.0, 58.0, 0.2, 0.0, 2, 3.0)
SAFETY = 1.5
"""Margin on the guard's duration estimate before a run is cut."""


def prepare_environment(smoke: bool) -> None:
    """Before torch loads: offline, no GRIDWAIT_* settings leaking in (they override the
    check's own), CPU only for the smoke run, one GPU (the first) otherwise."""
    for name in [n for n in os.environ if n.startswith("GRIDWAIT_")]:
        del os.environ[name]
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if smoke:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    else:
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")


class Report:
    """The results so far, written (atomically) to gpu-check.json and gpu-check.md."""

    def __init__(self, out: Path, data: dict[str, Any]) -> None:
        self.out, self.data = out, data
        self.lock = threading.Lock()

    def save(self) -> None:
        from benchmarks.gpu_report import markdown

        with self.lock:
            self.out.mkdir(parents=True, exist_ok=True)
            for name, text in (
                ("gpu-check.json", json.dumps(self.data, indent=2, default=str)),
                ("gpu-check.md", markdown(self.data)),
            ):
                tmp = self.out / f".{name}.tmp"
                tmp.write_text(text)
                tmp.replace(self.out / name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU")
    parser.add_argument("--budget-s", type=float, help="soft time budget (450; smoke 55)")
    parser.add_argument(
        "--hard-s", type=float, help="the watchdog's hard limit (default: budget + 20; smoke + 3)"
    )
    parser.add_argument("--only", nargs="*", default=None, help="run only these names")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    began = time.monotonic()
    args = parse_args(argv)
    mode = SMOKE_MODE if args.smoke else GPU_MODE
    if args.budget_s:
        grace = mode.hard_s - mode.budget_s
        mode = replace(mode, budget_s=args.budget_s, hard_s=args.budget_s + grace)
    if args.hard_s:
        mode = replace(mode, hard_s=args.hard_s)
    prepare_environment(mode.smoke)
    try:
        from benchmarks.gpu_runs import Check
    except ImportError as exc:
        ours = (exc.name or "").partition(".")[0] not in MACHINE
        why = MISSING if ours else f"this machine lacks one of {', '.join(MACHINE)}"
        print(f"gpu_check: {why} ({exc})", file=sys.stderr)
        return 1
    report = Report(args.out, header(mode, began))
    root = Path(tempfile.mkdtemp(prefix="gridwait-gpu-check-"))
    watchdog = threading.Timer(mode.hard_s - (time.monotonic() - began), hard_stop, (report, root))
    watchdog.daemon = True
    watchdog.start()
    try:
        return Check(mode, report, root, began, args.only).run()
    finally:
        watchdog.cancel()
        shutil.rmtree(root, ignore_errors=True)


def header(mode: Mode, began: float) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "schema": 1,
        "mode": "smoke" if mode.smoke else "gpu",
        "status": "running",
        "incomplete": None,
        "budget_s": mode.budget_s,
        "import_s": round(time.monotonic() - began, 1),
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda,
            "transformers": transformers.__version__,
        },
        "runs": [],
    }


def hard_stop(report: Report, root: Path) -> None:
    """The watchdog: keep what was measured, say so, and end the process now."""
    report.data["status"] = "incomplete"
    report.data["incomplete"] = (
        f"hard time limit reached during {report.data.get('current') or 'set-up'}"
    )
    report.save()
    print(f"gpu_check: {report.data['incomplete']}", file=sys.stderr, flush=True)
    shutil.rmtree(root, ignore_errors=True)
    os._exit(2)


if __name__ == "__main__":
    sys.exit(main())
