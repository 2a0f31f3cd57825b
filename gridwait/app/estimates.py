"""Estimating a job: the glue between a spec, the files it names, the measured history in
the database and the pure estimators. The hardware comes from `Deps` (detected at the
edge or named in the settings), never detected here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import EstimateView
from gridwait.errors import EstimateError
from gridwait.estimators.batching import Policy, TokenCount
from gridwait.estimators.calibration import Observation
from gridwait.estimators.energy import EnergyParams, Estimate, estimate
from gridwait.estimators.hardware import Hardware, lookup
from gridwait.estimators.model_info import ModelInfo, model_info
from gridwait.estimators.tokens import DatasetRef, count_job_tokens, dataset_ref
from gridwait.spec import JobSpec, LoraSpec, Submission
from gridwait.store.engine import Store
from gridwait.store.models import Job
from gridwait.store.runs import measured_runs
from gridwait.store.token_cache import TokenLengthCache
from gridwait.units import J_PER_KWH


@dataclass(frozen=True)
class EstimateInput:
    model: str
    task: str
    data: DatasetRef
    max_length: int
    batch_size: int
    epochs: int
    padding: Policy
    seed: int
    gpus: int
    lora: LoraSpec | None = None
    """Set for a LoRA fine-tune: only adapters (and a head) train."""
    eval: DatasetRef | None = None
    """Evaluated once after training: one forward pass per example."""
    accumulation: int = 1
    """Batches per optimizer step."""

    @classmethod
    def from_spec(
        cls, spec: JobSpec, model: str, dataset: str, eval_dataset: str | None
    ) -> EstimateInput:
        """`eval_dataset`: where the spec's [eval] set is (None when it has none)."""
        assert spec.dataset is not None, "a job without a dataset is estimated from its duration"
        return cls(
            model=model,
            task=spec.task,
            data=dataset_ref(spec.dataset, dataset, spec.task),
            max_length=spec.max_length,
            batch_size=spec.batch_size,
            epochs=spec.epochs,
            padding=spec.padding,
            seed=spec.seed,
            gpus=spec.gpus,
            lora=(spec.lora or LoraSpec()) if spec.method == "lora" else None,
            eval=None
            if spec.eval is None or eval_dataset is None
            else dataset_ref(spec.eval, eval_dataset, spec.task),
            accumulation=spec.gradient_accumulation_steps,
        )


def history(store: Store) -> list[Observation]:
    with store.read() as session:
        rows = measured_runs(session)
    out = []
    for r in rows:
        joules = float(r["energy_it_j"] or 0.0)
        out.append(
            Observation(
                model=str(r["model"]),
                hardware=str(r["hardware"]),
                precision=str(r["precision"]),
                tokens_padded=training_tokens(r),
                flops=float(r["flops"] or 0.0),
                seconds=float(r["duration_s"]),
                joules=joules,
                gpu_share=float(r["energy_gpu_j"] or 0.0) / joules if joules else 0.0,
                cpu_share=float(r["energy_cpu_j"] or 0.0) / joules if joules else 1.0,
            )
        )
    return out


Progress = Callable[[int, int], None]
"""Called with (examples done, examples in all) while tokens are counted."""


def training_tokens(run: dict[str, object]) -> int:
    """The run's padded tokens plus its eval passes as the training tokens of the same
    FLOPs, as `estimate` charges them: a run measured with its eval is fitted whole."""
    tokens, flops = int(str(run["tokens_padded"])), float(str(run["flops"] or 0.0))
    eval_flops = float(str(run.get("eval_flops") or 0.0))
    if not eval_flops or flops <= eval_flops:
        return tokens
    return round(tokens * flops / (flops - eval_flops))


def estimate_job(
    deps: Deps, job: EstimateInput, hardware: str | None = None, progress: Progress | None = None
) -> tuple[Estimate, str | None]:
    """The estimate and a note when the hardware had to be assumed. EstimateError when
    the dataset, tokenizer or model config cannot be read, or `hardware` is unknown."""
    energy = deps.settings.energy
    machine, note = _machine(deps, hardware, job.gpus)
    store = deps.store()
    cache = TokenLengthCache(store, deps.clock.now())

    def count(data: DatasetRef, epochs: int, progress: Progress | None) -> TokenCount:
        return count_job_tokens(
            job.model, data, job.max_length, job.batch_size, epochs, job.padding, job.seed,
            cache, progress,
        )  # fmt: skip

    training = count(job.data, job.epochs, progress)
    evaluation = count(job.eval, 1, None) if job.eval is not None else None
    info = model_info(job.model, job.task)
    if job.lora is not None:
        info = with_lora(info, job.model, job.task, job.lora)
    params = EnergyParams(energy.pue, energy.cpu_watts_per_core, energy.ram_watts_per_gb)
    est = estimate(training, info, machine, job.gpus, params, history(store), job.model, evaluation)
    if job.accumulation > 1:  # the same batches and tokens, fewer optimizer steps
        est = replace(est, steps=-(-est.steps // job.accumulation))
    return est, note


def with_lora(info: ModelInfo, model: str, task: str, lora: LoraSpec) -> ModelInfo:
    """The model as a LoRA fine-tune trains it (the worker's FLOPs use the same)."""
    from gridwait.estimators.lora import lora_trainable

    targets = tuple(lora.target_modules) if lora.target_modules else None
    trainable = lora_trainable(model, task, lora.r, lora.alpha, lora.dropout, targets)
    return replace(info, trainable=trainable)


def estimate_submission(
    deps: Deps, sub: Submission, hardware: str | None = None, progress: Progress | None = None
) -> tuple[Estimate, str | None]:
    """A resolved spec's estimate: from its tokens, or from its declared duration."""
    spec = sub.spec
    if spec.duration is not None:
        return estimate_declared(deps, spec.duration, spec.power_w, spec.gpus, hardware)
    assert sub.model is not None and sub.dataset is not None  # resolve() checked the kind
    job = EstimateInput.from_spec(spec, sub.model, sub.dataset, sub.eval_dataset)
    return estimate_job(deps, job, hardware, progress)


def estimate_declared(
    deps: Deps, duration: str, power_w: float | None, gpus: int, hardware: str | None = None
) -> tuple[Estimate, str | None]:
    """A script job that declared how long it runs (and perhaps its power)."""
    from gridwait.estimators.energy import declared
    from gridwait.units import parse_duration

    machine, note = _machine(deps, hardware, gpus)
    energy = deps.settings.energy
    params = EnergyParams(energy.pue, energy.cpu_watts_per_core, energy.ram_watts_per_gb)
    seconds = parse_duration(duration).total_seconds()
    return declared(seconds, power_w, machine, gpus, params), note


def _machine(deps: Deps, hardware: str | None, gpus: int) -> tuple[Hardware, str | None]:
    """The row the user named, else this host's (with a note when it was assumed)."""
    return (_named(hardware, gpus, deps), None) if hardware else deps.hardware_for(gpus)


def _named(name: str, gpus: int, deps: Deps) -> Hardware:
    """A table row named by the user; a CPU job still runs on this host's CPU."""
    row = lookup(name)
    if gpus and row.kind != "gpu":
        raise EstimateError(f"hardware {name!r} is not a GPU but the job needs {gpus}")
    if not gpus and row.kind == "gpu":
        return deps.hardware_for(0)[0]
    return row


def estimate_spec(
    deps: Deps,
    actor: Actor,
    sub: Submission,
    hardware: str | None = None,
    progress: Progress | None = None,
) -> EstimateView:
    """`gridwait estimate`: anyone may ask; nothing is written but the token cache."""
    del actor  # every user may estimate
    est, note = estimate_submission(deps, sub, hardware, progress)
    return estimate_view(est, note)


def apply_estimate(job: Job, est: Estimate) -> None:
    """Store the estimate on the job row (tokens, seconds, facility joules and watts)."""
    job.est_tokens_real = est.tokens_real
    job.est_tokens_padded = est.tokens_padded
    job.est_seconds = est.seconds
    job.est_energy_j = est.energy_j
    job.est_power_w = est.power_w
    job.est_low_j = est.low_j
    job.est_high_j = est.high_j
    job.est_method = est.method


def estimate_view(est: Estimate, note: str | None = None) -> EstimateView:
    """Stable keys with units in their names."""
    kwh = J_PER_KWH
    return EstimateView(
        **{
            "tokens_real": est.tokens_real,
            "tokens_padded": est.tokens_padded,
            "padding_ratio": est.tokens_padded / est.tokens_real if est.tokens_real else None,
            "steps": est.steps,
            "flops": est.flops,
            "seconds": est.seconds,
            "seconds_low": est.seconds_low,
            "seconds_high": est.seconds_high,
            "energy_kwh": est.energy_j / kwh,
            "energy_low_kwh": est.low_j / kwh,
            "energy_high_kwh": est.high_j / kwh,
            "gpu_kwh": est.gpu_j / kwh,
            "cpu_kwh": est.cpu_j / kwh,
            "ram_kwh": est.ram_j / kwh,
            "pue": est.pue,
            "power_w": est.power_w,
            "hardware": est.hardware,
            "precision": est.precision,
            "method": est.method,
            "level": est.level,
            "note": note,
        }
    )
