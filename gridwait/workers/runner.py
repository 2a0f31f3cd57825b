"""The worker: take the claimed run through its reporter, measure, fine-tune, report.

It knows the rest of gridwait only through the `RunReporter` contract (reporter.py): it
starts the run and gets a ticket (the resolved spec and where to work), a sampler thread
sends energy samples as heartbeats, and the outcome (tokens, steps, metrics, duration,
energy per component with its method) is reported at the end. Exit codes: 0 succeeded,
75 suspended (checkpointed on SIGTERM, to be resumed), 1 failed, 3 the run was not ours
to take. Emissions are computed by the service, which knows the provider.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import replace
from pathlib import Path

from pydantic import ValidationError

from gridwait.clock import Clock
from gridwait.errors import GridwaitError
from gridwait.estimators.hardware import Hardware
from gridwait.estimators.model_info import model_info
from gridwait.estimators.tokens import DatasetRef, dataset_ref
from gridwait.spec import DatasetSpec, JobSpec, LoraSpec
from gridwait.workers.detect import hardware_for
from gridwait.workers.finetune import FinetuneJob, FinetuneResult, finetune
from gridwait.workers.meters import RunMeter, build_run_meter
from gridwait.workers.reporter import (
    EXIT_CODES,
    Outcome,
    RunNotOurs,
    RunReporter,
    Ticket,
    TrainingResult,
)
from gridwait.workers.sampler import Sampler
from gridwait.workers.script import ScriptTally, StatusWriter, files_of, run_script

log = logging.getLogger(__name__)
EXIT = EXIT_CODES


def run_worker(reporter: RunReporter, clock: Clock, meter: RunMeter | None = None) -> int:
    """Run one claimed run to its end; returns the process exit code."""
    try:
        ticket = reporter.start(str(os.getpid()), socket.gethostname())
    except RunNotOurs as exc:
        log.error("%s: nothing to do", exc)
        return EXIT["not-ours"]
    stop, lost = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = ticket.meter
    meter = meter or build_run_meter(
        os.getpid(), ticket.gpus, clock, settings.cpu_watts_per_core, settings.ram_watts_per_gb
    )
    script = ticket.spec.kind == "script"
    status_file = files_of(ticket)[1]
    heartbeats = StatusWriter(reporter, ticket, status_file)
    sampler = Sampler(meter, heartbeats, clock, settings.sample_seconds, lost)
    threading.Thread(target=_stop_when, args=(lost, stop), daemon=True).start()
    began = clock.monotonic()
    sampler.start()
    training: TrainingResult | None = None
    error = None
    try:
        if script:
            state, error, training = _script(ticket, stop)
        else:
            work = Path(ticket.work_dir)
            result = finetune(
                _job(ticket),
                work / "checkpoints",
                stop,
                work / "model",
                ticket.threads,
                status_file,
            )
            state = "suspended" if result.suspended else "succeeded"
            training = _training(ticket, result)
    except (GridwaitError, OSError, ValueError, RuntimeError, ImportError) as exc:
        state, error = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("run %s failed", ticket.run_id)
    final = sampler.stop()
    seconds = clock.monotonic() - began
    if lost.is_set():
        log.error("run %s was settled by the reaper while running; not recorded", ticket.run_id)
        return EXIT["not-ours"]
    outcome = Outcome(
        state=state,
        error=error,
        duration_s=seconds,
        final=final,
        result=training,
        note=f"{sampler.count} samples every {settings.sample_seconds:g} s;"
        f" sampling took {sampler.seconds_spent:.3f} s of {seconds:.1f} s",
    )
    try:
        (reporter.suspended if state == "suspended" else reporter.finish)(outcome)
    except RunNotOurs as exc:
        log.error("%s; its result is not recorded", exc)
        return EXIT["not-ours"]
    log.info("run %s %s (sampling took %.3f s)", ticket.run_id, state, sampler.seconds_spent)
    return EXIT[state]


def _stop_when(lost: threading.Event, stop: threading.Event) -> None:
    lost.wait()
    stop.set()


def _job(ticket: Ticket) -> FinetuneJob:
    spec = ticket.spec
    assert spec.model is not None and spec.dataset is not None  # a fine-tune has both
    return FinetuneJob(
        spec.model,
        spec.task,
        _data(spec, spec.dataset),
        spec.max_length,
        spec.batch_size,
        spec.epochs,
        spec.learning_rate,
        spec.padding,
        spec.seed,
        (spec.lora or LoraSpec()) if spec.method == "lora" else None,
        tuple(spec.report_to),
        spec.gradient_accumulation_steps,
        None if spec.eval is None else _data(spec, spec.eval),
    )


def _data(spec: JobSpec, data: DatasetSpec) -> DatasetRef:
    """What the fine-tune reads of `data` (its path absolute in the ticket)."""
    return dataset_ref(data, data.path or f"hub:{data.hub}", spec.task)


def _script(ticket: Ticket, stop: threading.Event) -> tuple[str, str | None, TrainingResult | None]:
    """Run a script job; its training result is what its callback reported, where the
    model is known (FLOPs need it)."""
    done = run_script(ticket, stop)
    report, spec = done.report, ticket.spec
    if done.error:
        log.error("run %s: %s", ticket.run_id, done.error)
    if report is None or spec.model is None:
        return done.state, done.error, None
    try:
        tally = ScriptTally.model_validate(report)
    except ValidationError as exc:
        log.warning("run %s: the script's result file is not a tally: %s", ticket.run_id, exc)
        return done.state, done.error, None
    machine, _ = hardware_for(ticket.gpus, ticket.meter.hardware, ticket.meter.cpu_watts_per_core)
    params = model_info(spec.model, spec.task).parameters
    trained = FinetuneResult(
        steps=tally.steps,
        total_steps=tally.total_steps,
        tokens_real=tally.tokens_real,
        tokens_padded=tally.tokens_padded,
        examples=tally.examples,
        final_loss=tally.final_loss,
        accuracy=None,
        suspended=done.state == "suspended",
        checkpoint=None,
        precision=machine.precision,
        model_params=params,
        trainable_params=params,  # not known: charged as a full fine-tune
        device="cuda" if ticket.gpus else "cpu",
    )
    return done.state, done.error, _training(ticket, trained, machine)


def _training(
    ticket: Ticket, result: FinetuneResult, machine: Hardware | None = None
) -> TrainingResult:
    """What the run trained, on what, and its FLOPs: the estimator calibrates on these."""
    if machine is None:
        machine, _ = hardware_for(
            ticket.gpus, ticket.meter.hardware, ticket.meter.cpu_watts_per_core
        )
    assert ticket.spec.model is not None  # a fine-tune has one
    info = model_info(ticket.spec.model, ticket.spec.task)
    if result.trainable_params < result.model_params:  # LoRA: the frozen weights cost less
        info = replace(info, trainable=result.trainable_params)
    width = result.tokens_padded / result.examples if result.examples else 0.0
    flops = info.flops_per_token(width) * result.tokens_padded
    evaluation, eval_flops = result.evaluation, None
    if evaluation is not None and evaluation.examples:  # its forward passes, as estimated
        eval_width = evaluation.tokens_padded / evaluation.examples
        eval_flops = info.forward_flops_per_token(eval_width) * evaluation.tokens_padded
        flops += eval_flops
    return TrainingResult(
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
        eval_examples=evaluation.examples if evaluation else None,
        eval_loss=evaluation.loss if evaluation else None,
        eval_accuracy=evaluation.accuracy if evaluation else None,
        eval_flops=eval_flops,
    )
