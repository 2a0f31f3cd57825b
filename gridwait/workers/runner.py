"""The worker process: take the claimed run, measure, fine-tune, report.

`python -m gridwait.workers run --run-id N` (started by a launcher, never through a
shell). It moves its run claimed -> running, keeps a sampler thread writing energy and
heartbeats, fine-tunes, and records tokens, steps, metrics, duration, energy per component
with its method, and how it ended. Exit codes: 0 succeeded, 75 suspended (checkpointed
on SIGTERM, to be resumed), 1 failed, 3 the run was not ours to take. Emissions are
computed by the service, which knows the provider.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from gridwait.clock import Clock
from gridwait.config import Settings
from gridwait.errors import GridwaitError
from gridwait.estimators.hardware import hardware_for
from gridwait.estimators.model_info import model_info
from gridwait.estimators.tokens import DatasetRef
from gridwait.spec import JobSpec
from gridwait.store.engine import Store
from gridwait.store.jobs import get_job
from gridwait.store.models import Job, Run
from gridwait.store.runs import start
from gridwait.workers.finetune import FinetuneJob, FinetuneResult, finetune
from gridwait.workers.meters import Measurement, RunMeter, build_run_meter
from gridwait.workers.sampler import Sampler

log = logging.getLogger(__name__)
EXIT = {"succeeded": 0, "failed": 1, "not-ours": 3, "suspended": 75}


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.work_dir / f"job-{job_id}"


def run_worker(run_id: int, settings: Settings, clock: Clock, meter: RunMeter | None = None) -> int:
    store = Store(settings.db, clock)
    lease = timedelta(seconds=settings.scheduler.lease_seconds * clock.factor)
    with store.write() as session:
        run = start(session, run_id, os.getpid(), socket.gethostname(), clock.now(), lease)
        job = get_job(session, run.job_id) if run is not None else None
    if run is None or job is None:
        log.error("run %s is not claimed (already started, or settled): nothing to do", run_id)
        return EXIT["not-ours"]
    stop, lost = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    meter = meter or build_run_meter(
        os.getpid(),
        job.gpus,
        clock,
        settings.energy.cpu_watts_per_core,
        settings.energy.ram_watts_per_gb,
    )
    sampler = Sampler(meter, store, run_id, clock, settings.energy.sample_seconds, lease, lost)
    threading.Thread(target=_stop_when, args=(lost, stop), daemon=True).start()
    began = clock.monotonic()
    sampler.start()
    result: FinetuneResult | None = None
    error = None
    try:
        directory = job_dir(settings, job.id or 0)
        threads = (
            None if job.gpus else max(1, (os.cpu_count() or 1) // settings.scheduler.cpu_slots)
        )
        result = finetune(_job(job), directory / "checkpoints", stop, directory / "model", threads)
        state = "suspended" if result.suspended else "succeeded"
    except (GridwaitError, OSError, ValueError, RuntimeError, ImportError) as exc:
        state, error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("run %s failed", run_id)
    final = sampler.stop()
    if lost.is_set():
        log.error(
            "run %s was settled by the reaper while running; its result is not recorded", run_id
        )
        return EXIT["not-ours"]
    _finish(
        store,
        settings,
        clock,
        run_id,
        job,
        state,
        error,
        result,
        final,
        clock.monotonic() - began,
        sampler,
    )
    log.info("run %s %s (sampling took %.3f s)", run_id, state, sampler.seconds_spent)
    return EXIT[state]


def _stop_when(lost: threading.Event, stop: threading.Event) -> None:
    lost.wait()
    stop.set()


def _job(job: Job) -> FinetuneJob:
    spec = JobSpec.model_validate_json(job.spec_json)
    label = spec.dataset.label_column if job.task == "sequence-classification" else None
    data = DatasetRef(
        job.dataset, spec.dataset.text_column, label, spec.dataset.limit, spec.dataset.split
    )
    return FinetuneJob(
        job.model,
        job.task,
        data,
        job.max_length,
        job.batch_size,
        job.epochs,
        job.learning_rate,
        spec.padding,
        spec.seed,
    )


def _finish(
    store: Store,
    settings: Settings,
    clock: Clock,
    run_id: int,
    job: Job,
    state: str,
    error: str | None,
    result: FinetuneResult | None,
    final: Measurement,
    seconds: float,
    sampler: Sampler,
) -> None:
    values: dict[str, Any] = {
        "state": state,
        "ended_at": clock.now(),
        "exit_code": EXIT[state],
        "error": error,
        "duration_s": seconds,
        "energy_gpu_j": final.gpu_j,
        "energy_cpu_j": final.cpu_j,
        "energy_ram_j": final.ram_j,
        "energy_it_j": final.it_j,
        "pue": settings.energy.pue,
        "energy_facility_j": final.it_j * settings.energy.pue,
        "gpu_method": final.gpu_method,
        "cpu_method": final.cpu_method,
        "ram_method": final.ram_method,
        "measure_note": f"{sampler.count} samples every {settings.energy.sample_seconds:g} s;"
        f" sampling took {sampler.seconds_spent:.3f} s of {seconds:.1f} s",
    }
    if result is not None:
        machine, _ = hardware_for(
            job.gpus, settings.energy.hardware, settings.energy.cpu_watts_per_core
        )
        info = model_info(job.model, job.task)
        width = result.tokens_padded / result.examples if result.examples else 0.0
        flops = info.flops_per_token(width) * result.tokens_padded
        values.update(
            tokens_real=result.tokens_real,
            tokens_padded=result.tokens_padded,
            steps=result.steps,
            total_steps=result.total_steps,
            final_loss=result.final_loss,
            accuracy=result.accuracy,
            checkpoint=result.checkpoint,
            hardware=machine.name,
            precision=result.precision,
            model_params=result.model_params,
            flops=flops,
        )
    with store.write() as session:
        session.connection().execute(update(Run).where(col(Run.id) == run_id).values(**values))
