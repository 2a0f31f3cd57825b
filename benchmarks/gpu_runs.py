"""The GPU check's runs (gpu_check.py says what and why): each model through gridwait's
real worker on a temporary SQLite database, then the estimator against the measurement.
Imports gridwait, torch and transformers: gpu_check imports it once the environment is
set, and reports the wheels as missing when it cannot."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch

from benchmarks.gpu_check import SAFETY, Mode, Report
from benchmarks.gpu_models import (
    GPU_MODELS,
    SMOKE_MODELS,
    ModelSpec,
    build_model,
    build_shared_tokenizer,
    write_dataset,
)
from benchmarks.gpu_nvml import (
    DualGpuMeter,
    Probe,
    clocks,
    dual_meter,
    gpu_info,
    idle_power,
    open_nvml,
)
from benchmarks.gpu_report import fit_steps, mape, pct, sampler_stats
from benchmarks.gpu_timing import (
    StepTimes,
    TimedMeter,
    TimedReporter,
    Timeline,
    sample_intervals,
    step_timing,
)
from gridwait.app.deps import Deps
from gridwait.app.runs import LocalReporter
from gridwait.clock import SystemClock
from gridwait.config import EnergySettings, Settings
from gridwait.errors import GridwaitError
from gridwait.estimators.batching import TokenCount
from gridwait.estimators.calibration import Observation
from gridwait.estimators.energy import (
    CPU_UTILISATION,
    GPU_POWER_FRACTION,
    EnergyParams,
    Estimate,
    estimate,
    gpu_utilisation,
)
from gridwait.estimators.model_info import ModelInfo, model_info
from gridwait.estimators.tokens import DatasetRef, count_job_tokens
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.jobs import add_job, transition
from gridwait.store.models import Run
from gridwait.store.runs import claim, samples_of
from gridwait.workers.detect import hardware_for
from gridwait.workers.meters import EnergyMeter, RamMeter, RunMeter, cpu_meter, nvml_meter
from gridwait.workers.runner import run_worker

SEED = 42
RUN_FIELDS = (
    "state",
    "error",
    "duration_s",
    "energy_it_j",
    "energy_gpu_j",
    "energy_cpu_j",
    "energy_ram_j",
    "gpu_method",
    "cpu_method",
    "ram_method",
    "tokens_real",
    "tokens_padded",
    "steps",
    "flops",
    "hardware",
    "precision",
    "model_params",
    "measure_note",
)


@dataclass(frozen=True)
class Work:
    """One run's inputs: the model, its data, how many steps, and what they count."""

    spec: ModelSpec
    model: str
    data: Path
    steps: int
    count: TokenCount
    info: ModelInfo


@dataclass(frozen=True)
class Observed:
    work: Work
    observation: Observation


@contextmanager
def signals_kept() -> Iterator[None]:
    """run_worker points SIGTERM and SIGINT at its own stop event; put them back after."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


def imported_distributions() -> list[str]:
    """The installed distributions this process imported from (for the wheel set)."""
    from importlib.metadata import packages_distributions

    names = packages_distributions()
    return sorted({d for m in list(sys.modules) for d in names.get(m.partition(".")[0], [])})


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


class Check:
    def __init__(
        self, mode: Mode, report: Report, root: Path, began: float, only: list[str] | None
    ) -> None:
        self.mode, self.report, self.root, self.began = mode, report, root, began
        models = SMOKE_MODELS if mode.smoke else GPU_MODELS
        self.specs = [s for s in models if only is None or s.name in only]
        self.clock = SystemClock()
        self.settings = Settings(
            db=root / "check.db",
            log_dir=root / "runs",
            scheduler={"lease_seconds": 3600.0},
            energy={"sample_seconds": mode.sample_s},
        )
        self.deps = Deps(self.settings, self.clock)
        energy = self.settings.energy
        self.params = EnergyParams(energy.pue, energy.cpu_watts_per_core, energy.ram_watts_per_gb)
        self.gpus = 0 if mode.smoke else 1
        self.hardware, note = hardware_for(self.gpus, None, energy.cpu_watts_per_core)
        self.probe: Probe | None = None
        self.counter = False
        self.models: dict[str, str] = {}
        self.observed: list[Observed] = []
        report.data.update(hardware=self.hardware.name, hardware_note=note)

    def run(self) -> int:
        """All runs, saving after each; 0 when every run succeeded."""
        problem = self._device_before()
        if problem is not None:
            self.report.data.update(status="no-gpu", incomplete=f"{problem}; use --smoke")
            self.report.save()
            print(f"gpu_check: {problem}", file=sys.stderr)
            return 1
        tokenizer = build_shared_tokenizer(self.root / "tokenizer")
        ok = True
        for spec in self.specs:
            self.report.data["current"] = spec.name
            print(f"gpu_check: {spec.name}", file=sys.stderr, flush=True)
            try:
                row = self._one(spec, tokenizer)
            except (GridwaitError, OSError, RuntimeError, ValueError) as exc:
                row = {
                    "name": spec.name,
                    "state": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            self.report.data["runs"].append(row)
            ok = ok and row.get("state") == "succeeded"
            self.report.data["calibration"] = self._calibration()
            self._save()
        self._device_after()
        self.report.data.update(status="complete" if ok else "partial", current=None)
        self.report.data["distributions"] = imported_distributions()
        self._save()
        return 0 if ok else 1

    def _save(self) -> None:
        self.report.data["elapsed_s"] = round(time.monotonic() - self.began, 1)
        self.report.save()

    # the device

    def _device_before(self) -> str | None:
        """GPU identity, clocks and idle power before any run; why not, on no GPU."""
        if self.mode.smoke:
            self.report.data["gpu"] = {"unavailable": "--smoke runs on the CPU"}
            return None
        if not torch.cuda.is_available():
            return "torch sees no CUDA device"
        opened = open_nvml(self.clock)
        if isinstance(opened, str):
            return opened
        nvml, handles = opened
        self.probe = Probe(nvml, handles)
        info = gpu_info(nvml, handles[0])
        self.counter = bool(info["counter_supported"])
        info["devices_measured"] = len(handles)
        info["idle_before"] = idle_power(self.probe, self.clock, self.mode.idle_s)
        info["clocks_before"] = clocks(nvml, handles[0])
        info["torch_device"] = torch.cuda.get_device_name(0)
        self.report.data["gpu"] = info
        return None

    def _device_after(self) -> None:
        if self.probe is None:
            return
        self._free()
        gpu = self.report.data["gpu"]
        gpu["idle_after"] = idle_power(self.probe, self.clock, self.mode.idle_s)
        gpu["idle_after"]["note"] = "with this process's CUDA context still open"
        gpu["clocks_after"] = clocks(self.probe.nvml, self.probe.handles[0])

    def _free(self) -> None:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # one run

    def _one(self, spec: ModelSpec, tokenizer: Path) -> dict[str, Any]:
        model = self._model(spec, tokenizer)
        data = write_dataset(self.root / f"{spec.name}.csv", spec.examples, spec.max_length + 2)
        work = self._work(spec, model, data, spec.steps)
        steps, guard = self._guard(work)
        row: dict[str, Any] = {
            "name": spec.name,
            "task": spec.task,
            "max_length": spec.max_length,
            "batch_size": spec.batch_size,
            "steps_planned": spec.steps,
            "guard": guard,
        }
        if not steps:
            return {**row, "state": "skipped"}
        if steps != spec.steps:
            work = self._work(spec, model, data, steps)
        cold = estimate(work.count, work.info, self.hardware, self.gpus, self.params)
        row.update(self._measure(work))
        row.update(self._versus_cold(cold, row))
        if row["state"] == "succeeded":
            self.observed.append(Observed(work, observation(work.model, row)))
        return row

    def _model(self, spec: ModelSpec, tokenizer: Path) -> str:
        """The model of this shape, built once (both BERT runs train the same model)."""
        key = f"{spec.family}:{sorted(spec.shape.items())}"
        if key not in self.models:
            device = "cpu" if self.mode.smoke else "cuda"
            path = build_model(spec, tokenizer, self.root / "models" / spec.name, device)
            self.models[key] = str(path)
            self._free()
        return self.models[key]

    def _work(self, spec: ModelSpec, model: str, data: Path, steps: int) -> Work:
        label = "label" if spec.task == "sequence-classification" else None
        ref = DatasetRef(str(data), "text", label, steps * spec.batch_size)
        count = count_job_tokens(model, ref, spec.max_length, spec.batch_size, 1, "max", SEED)
        return Work(spec, model, data, steps, count, model_info(model, spec.task))

    def _guard(self, work: Work) -> tuple[int, str | None]:
        """Steps that fit the time left by gridwait's estimate (calibrated on the runs
        so far), with a margin: all of them, fewer, or none."""
        history = [o.observation for o in self.observed]
        guess = estimate(
            work.count, work.info, self.hardware, self.gpus, self.params, history, work.model
        )
        left = self.mode.budget_s - (time.monotonic() - self.began) - self.mode.reserve_s
        steps, note = fit_steps(
            work.steps, guess.seconds * SAFETY, left - self.mode.idle_s, self.mode.min_steps
        )
        return steps, None if note is None else f"{note} ({guess.level} estimate x {SAFETY})"

    def _claim(self, work: Work) -> tuple[int, int]:
        """Submit, plan and claim the job as the service would; (run id, job id)."""
        spec = work.spec
        job_spec = JobSpec.model_validate(
            {
                "name": spec.name,
                "model": work.model,
                "task": spec.task,
                "deadline": "4h",
                "owner": "gpu-check",
                "batch_size": spec.batch_size,
                "max_length": spec.max_length,
                "gpus": self.gpus,
                "padding": "max",
                "seed": SEED,
                "dataset": {"path": str(work.data), "limit": work.steps * spec.batch_size},
            }
        )
        now = self.clock.now()
        store = self.deps.store()
        with store.write() as session:
            job = add_job(session, resolve(job_spec, now, work.data.parent), 0, now)
            job.planned_start = now
            transition(session, job, JobState.PLANNED, now, "gpu check")
        assert job.id is not None
        with store.write() as session:
            gpu_ids = "0" if self.gpus else ""
            run = claim(session, job.id, now, now, timedelta(hours=1), gpu_ids, None)
        assert run is not None and run.id is not None
        return run.id, job.id

    def _meter(self) -> RunMeter:
        """The run's meter: the worker's own CPU and RAM meters; on the GPU both NVML
        methods at once where the counter works, else what gridwait would choose."""
        pid, energy = os.getpid(), self.settings.energy
        gpu: EnergyMeter | None = None
        if self.probe is not None:
            nvml, handles = self.probe.nvml, self.probe.handles
            gpu = dual_meter(nvml, handles, self.clock) if self.counter else nvml_meter(self.clock)
        return RunMeter(
            self.clock,
            gpu,
            cpu_meter(pid, energy.cpu_watts_per_core),
            RamMeter(pid, energy.ram_watts_per_gb, self.clock),
        )

    def _measure(self, work: Work) -> dict[str, Any]:
        """Run the worker on the claimed run and read back what it recorded."""
        run_id, job_id = self._claim(work)
        reporter = TimedReporter(LocalReporter(self.deps, run_id))
        meter = TimedMeter(self._meter())
        callback = StepTimes(self.probe, max(1, work.steps // 2))
        began = time.monotonic()
        with step_timing(callback), signals_kept():
            run_worker(reporter, self.clock, meter)
        ended = time.monotonic()
        row = self._recorded(run_id)
        shutil.rmtree(self.settings.job_dir(job_id), ignore_errors=True)
        self._free()
        row.update(self._timing(callback.timeline, began, ended, row, work.info))
        if isinstance(meter.gpu, DualGpuMeter):
            joules, method = meter.gpu.shadow
            row["gpu_power_integration_j"] = _r(joules)
            row["gpu_power_method"] = method
            row["gpu_methods_diff_pct"] = pct(joules, row.get("energy_gpu_j"))
        row["sampler"] = sampler_stats(
            sample_intervals(meter, reporter),
            callback.timeline.steps,
            row.get("duration_s") or 0.0,
            self.mode.sample_s,
            EnergySettings().sample_seconds,
        )
        return row

    def _recorded(self, run_id: int) -> dict[str, Any]:
        with self.deps.store().read() as session:
            run = session.get(Run, run_id)
            assert run is not None
            row = {name: getattr(run, name) for name in RUN_FIELDS}
            row["samples"] = len(samples_of(session, run_id))
        row["state"] = str(row["state"])
        for name in ("duration_s", "energy_it_j", "energy_gpu_j", "energy_cpu_j", "energy_ram_j"):
            row[name] = _r(row[name], 2)
        return row

    def _timing(
        self, tl: Timeline, began: float, ended: float, row: dict[str, Any], info: ModelInfo
    ) -> dict[str, Any]:
        """Start-up, training loop and tear-down; utilisation and GPU power in the loop
        against the estimator's assumptions."""
        if tl.train_begin is None or tl.train_end is None:
            return {"timing": "unavailable: no step timing in this transformers"}
        train_s = tl.train_end - tl.train_begin
        out: dict[str, Any] = {
            "startup_s": _r(tl.train_begin - began),
            "train_s": _r(train_s, 2),
            "teardown_s": _r(ended - tl.train_end),
        }
        if row.get("flops") and train_s > 0:
            out["mfu"] = round(row["flops"] / (train_s * self.hardware.peak()), 4)
            gpu = self.hardware.kind == "gpu"
            out["prior_utilisation"] = (
                round(gpu_utilisation(info.non_embedding), 4) if gpu else CPU_UTILISATION
            )
        if tl.gpu_j_begin is not None and tl.gpu_j_end is not None and train_s > 0:
            watts = (tl.gpu_j_end - tl.gpu_j_begin) / train_s
            limit = (self.report.data.get("gpu") or {}).get("power_limit_w")
            out.update(
                gpu_train_j=_r(tl.gpu_j_end - tl.gpu_j_begin),
                gpu_train_w=_r(watts),
                power_fraction=round(watts / limit, 3) if isinstance(limit, float) else None,
                prior_power_fraction=GPU_POWER_FRACTION,
                load_sm_mhz=tl.load_sm_mhz,
                load_power_w=_r(tl.load_power_w),
            )
        return out

    def _versus_cold(self, cold: Estimate, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "tokens_estimated": cold.tokens_padded,
            "cold": {
                "seconds": _r(cold.seconds),
                "it_j": _r(cold.it_j),
                "gpu_j": _r(cold.gpu_j),
                "cpu_j": _r(cold.cpu_j),
                "ram_j": _r(cold.ram_j),
                "level": cold.level,
                "method": cold.method,
            },
            "cold_error_s_pct": pct(cold.seconds, row.get("duration_s")),
            "cold_error_j_pct": pct(cold.it_j, row.get("energy_it_j")),
            "cold_error_gpu_j_pct": pct(cold.gpu_j, row.get("energy_gpu_j")) if self.gpus else None,
        }

    # calibration

    def _calibration(self) -> dict[str, Any]:
        """Leave one out over the distinct models (calibrate on the others, predict it),
        and each run that has a same-model partner predicted from that run alone."""
        pool = [o for o in self.observed if o.work.spec.same_model_as is None]
        loo = [self._predict(o, [p for p in pool if p is not o]) for o in pool if len(pool) > 1]
        same = []
        for o in self.observed:
            partner = [p for p in self.observed if p.work.spec.name == o.work.spec.same_model_as]
            if partner:
                same.append(self._predict(o, partner))
        return {
            "pool": [o.work.spec.name for o in pool],
            "leave_one_out": loo,
            "duration_mape_pct": mape([x["error_s_pct"] for x in loo]),
            "energy_mape_pct": mape([x["error_j_pct"] for x in loo]),
            "same_model": same,
        }

    def _predict(self, target: Observed, history: list[Observed]) -> dict[str, Any]:
        work = target.work
        est = estimate(
            work.count,
            work.info,
            self.hardware,
            self.gpus,
            self.params,
            [h.observation for h in history],
            work.model,
        )
        return {
            "predicted": work.spec.name,
            "from": [h.work.spec.name for h in history],
            "level": est.level,
            "seconds": _r(est.seconds),
            "it_j": _r(est.it_j),
            "error_s_pct": pct(est.seconds, target.observation.seconds),
            "error_j_pct": pct(est.it_j, target.observation.joules),
        }


def observation(model: str, row: dict[str, Any]) -> Observation:
    """A finished run as the calibration sees it (as the service builds it from a run)."""
    joules = row.get("energy_it_j") or 0.0
    return Observation(
        model,
        row.get("hardware") or "",
        row.get("precision") or "",
        row.get("tokens_padded") or 0,
        row.get("flops") or 0.0,
        row.get("duration_s") or 0.0,
        joules,
        (row.get("energy_gpu_j") or 0.0) / joules if joules else 0.0,
        (row.get("energy_cpu_j") or 0.0) / joules if joules else 1.0,
    )
