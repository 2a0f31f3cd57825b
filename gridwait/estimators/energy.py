"""A job's energy, duration and mean power before it runs.

Cold start, from first principles (LLMCarbon-style):
    FLOPs   = FLOPs per token (6N + attention, model_info.py) x padded tokens
    seconds = FLOPs / (devices x dense peak x assumed utilisation)
    energy  = seconds x (GPU power x GPUs + CPU + RAM), x PUE for the facility
With measured runs, calibration.py replaces the first two lines. Every Estimate says
which method produced it and carries a low/high band.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gridwait.estimators.batching import TokenCount
from gridwait.estimators.calibration import Calibration, Fixed, Observation, calibrate
from gridwait.estimators.hardware import Hardware
from gridwait.estimators.model_info import ModelInfo

# Assumptions of the prior, stated once. Model FLOPs utilisation of small-model
# fine-tuning is far below large pre-training runs (PaLM ~46 %); on a CPU a dense fp32
# BERT step reaches roughly a third of peak; on a GPU small models are launch-bound.
CPU_UTILISATION = 0.35
GPU_UTILISATION_LARGE = 0.30  # >= 1e9 non-embedding parameters
GPU_UTILISATION_FLOOR = 0.05
GPU_POWER_FRACTION = 0.70  # mean board power during training / power limit
HOST_CORES_PER_GPU = 1.0  # the Python process feeding each GPU keeps about one core busy
PRIOR_LOW, PRIOR_HIGH = 0.5, 2.0
RUNTIME_GB = 1.5  # torch + transformers resident before the model
# Fixed cost of a run before its first step: process start, torch and transformers
# imports, model load (and CUDA context creation): about 8 s measured on a 2-core CPU
# host for MiniLM; assumed 30 s on a GPU host. One core busy meanwhile. Calibration
# replaces both with the intercept it fits.
STARTUP_S = {"cpu": 8.0, "gpu": 30.0}
# Fixed cost of every optimizer step whatever the model's size: the Trainer loop, batch
# collation, the optimizer's pass over all parameters. On a 2-core CPU host a 0.4 M
# parameter BERT takes about 28 ms a step with almost no FLOPs (benchmarks/estimator.py);
# assumed 10 ms on a GPU (kernel launches and Python between them).
STEP_OVERHEAD_S = {"cpu": 0.025, "gpu": 0.010}


_UNKNOWN_MODEL = ModelInfo(parameters=0, embedding_parameters=0, layers=0, hidden=0)
"""A declared script's model is not known: no weights in the RAM estimate."""


@dataclass(frozen=True)
class EnergyParams:
    pue: float = 1.0
    cpu_watts_per_core: float = 10.0
    ram_watts_per_gb: float = 0.3725


@dataclass(frozen=True)
class Estimate:
    tokens_real: int
    tokens_padded: int
    steps: int
    flops: float
    seconds: float
    seconds_low: float
    seconds_high: float
    gpu_j: float
    cpu_j: float
    ram_j: float
    """IT energy per component, J."""
    pue: float
    energy_j: float
    """Facility energy (IT x PUE), J: what emissions are computed from."""
    low_j: float
    high_j: float
    power_w: float
    """Mean facility power over the run, W."""
    method: str
    hardware: str
    precision: str
    level: str
    """prior, same-model or same-hardware"""

    @property
    def it_j(self) -> float:
        return self.gpu_j + self.cpu_j + self.ram_j


def gpu_utilisation(non_embedding_params: int) -> float:
    """Assumed fraction of dense peak: 30 % for 1e9+ parameters, falling as N^0.3 below."""
    scale = float((max(non_embedding_params, 1) / 1e9) ** 0.3)
    return max(GPU_UTILISATION_FLOOR, min(GPU_UTILISATION_LARGE, GPU_UTILISATION_LARGE * scale))


def estimate(  # noqa: PLR0913  (the evaluation rides with the training it follows)
    count: TokenCount,
    info: ModelInfo,
    hardware: Hardware,
    gpus: int,
    params: EnergyParams,
    history: list[Observation] | None = None,
    model: str = "",
    evaluation: TokenCount | None = None,
) -> Estimate:
    """`evaluation`: the eval set's tokens, one forward pass each after training, charged
    at the training's rate per FLOP (a forward pass costs a third of a full fine-tune's
    training FLOPs a token, about half of a LoRA one's)."""
    per_token = info.flops_per_token(count.mean_padded_length)
    flops = per_token * count.padded
    extra = _Evaluation.of(evaluation, info, per_token)
    precision = hardware.precision
    # one core is busy during start-up (see STARTUP_S)
    startup = STARTUP_S[hardware.kind]
    fixed = Fixed(startup, startup * params.cpu_watts_per_core)
    cal = calibrate(history or [], model, hardware.name, precision, fixed)
    if cal is None:
        return _prior(count, info, hardware, gpus, params, flops, extra)
    done = _calibrated(count, hardware, params, flops, cal, extra)
    notes = [done.method]
    if info.trainable is not None:
        notes.append(info.flops_rule)
    if extra.padded:
        notes.append(extra.describe())
    return replace(done, method="; ".join(notes))


@dataclass(frozen=True)
class _Evaluation:
    """The eval passes: their FLOPs, and as many training tokens as cost the same."""

    padded: int = 0
    batches: int = 0
    flops: float = 0.0
    training_tokens: float = 0.0

    @classmethod
    def of(cls, count: TokenCount | None, info: ModelInfo, per_token: float) -> _Evaluation:
        if count is None or not count.padded:
            return cls()
        flops = info.forward_flops_per_token(count.mean_padded_length) * count.padded
        return cls(count.padded, count.batches, flops, flops / per_token if per_token else 0.0)

    def describe(self) -> str:
        return f"eval: {self.padded:,} padded tokens, one forward pass (2N+attention FLOPs)"


def declared(
    seconds: float, power_w: float | None, hardware: Hardware, gpus: int, params: EnergyParams
) -> Estimate:
    """A script job's estimate from the duration it declared: no tokens, no FLOPs. Its
    power is the declared mean IT power, else the prior's for its hardware with a model
    of unknown size (the prior's band, as a guess)."""
    if power_w is not None:
        parts = (power_w * seconds, 0.0, 0.0) if gpus else (0.0, power_w * seconds, 0.0)
        band, method = (1.0, 1.0), f"declared: {seconds:g} s at {power_w:g} W (declared)"
    else:
        gpu_w, cpu_w, ram_w = _power_split(_UNKNOWN_MODEL, hardware, gpus, params)
        parts = (gpu_w * seconds, cpu_w * seconds, ram_w * seconds)
        band = (PRIOR_LOW, PRIOR_HIGH)
        method = (
            f"declared: {seconds:g} s (declared) at {hardware.name}'s prior power"
            f" ({sum(parts) / seconds if seconds else 0.0:.0f} W IT)"
        )
    count = TokenCount(0, 0, 0, 0, 0, 0.0)
    prediction = _Prediction(0.0, seconds, parts, ((1.0, 1.0), band), method, "declared")
    return _assemble(count, hardware, params, prediction)


def _power_split(
    info: ModelInfo, hardware: Hardware, gpus: int, params: EnergyParams
) -> tuple[float, float, float]:
    """Mean IT power per component (GPU, CPU, RAM) in W under the prior."""
    if hardware.kind == "gpu":
        gpu_w = hardware.power_w * GPU_POWER_FRACTION * gpus
        cpu_w = HOST_CORES_PER_GPU * gpus * params.cpu_watts_per_core
        ram_gb = RUNTIME_GB + 4 * info.parameters / 1e9  # a host copy of the weights
    else:
        gpu_w = 0.0
        cpu_w = hardware.cores * params.cpu_watts_per_core
        ram_gb = RUNTIME_GB + 16 * info.parameters / 1e9  # weights, grads, two Adam moments
    return gpu_w, cpu_w, ram_gb * params.ram_watts_per_gb


def _prior(
    count: TokenCount,
    info: ModelInfo,
    hardware: Hardware,
    gpus: int,
    params: EnergyParams,
    flops: float,
    extra: _Evaluation,
) -> Estimate:
    if hardware.kind == "gpu":
        utilisation = gpu_utilisation(info.non_embedding)
        throughput = hardware.peak() * max(gpus, 1) * utilisation
    else:
        utilisation = CPU_UTILISATION
        throughput = hardware.peak() * utilisation
    flops += extra.flops  # an eval batch is charged a step's overhead too
    batches = count.batches + extra.batches
    training = (flops / throughput if throughput else 0.0) + batches * STEP_OVERHEAD_S[
        hardware.kind
    ]
    startup = STARTUP_S[hardware.kind]
    seconds = startup + training
    gpu_w, cpu_w, ram_w = _power_split(info, hardware, gpus, params)
    method = (
        f"prior: {info.flops_rule} x {count.padded:,} padded tokens at {utilisation:.0%} of"
        f" {hardware.name} dense {hardware.precision} peak,"
        f" {STEP_OVERHEAD_S[hardware.kind] * 1000:g} ms a step, {startup:g} s start-up"
    ) + (f"; {extra.describe()}" if extra.padded else "")
    parts = (
        gpu_w * training,
        cpu_w * training + params.cpu_watts_per_core * startup,
        ram_w * seconds,
    )
    band = ((PRIOR_LOW, PRIOR_HIGH), (PRIOR_LOW, PRIOR_HIGH))
    return _assemble(
        count, hardware, params, _Prediction(flops, seconds, parts, band, method, "prior")
    )


def _calibrated(
    count: TokenCount,
    hardware: Hardware,
    params: EnergyParams,
    flops: float,
    cal: Calibration,
    extra: _Evaluation,
) -> Estimate:
    flops += extra.flops
    x = float(count.padded) + extra.training_tokens if cal.x == "tokens" else flops
    seconds = max(cal.seconds(x), 0.0)
    it_j = max(cal.joules(x), 0.0)
    gpu_j = it_j * cal.gpu_share
    cpu_j = it_j * cal.cpu_share
    ram_j = max(it_j - gpu_j - cpu_j, 0.0)
    s_band, j_band = cal.seconds.band, cal.joules.band
    band = ((1 - min(s_band, 0.9), 1 + s_band), (1 - min(j_band, 0.9), 1 + j_band))
    prediction = _Prediction(flops, seconds, (gpu_j, cpu_j, ram_j), band, cal.describe(), cal.level)
    return _assemble(count, hardware, params, prediction)


@dataclass(frozen=True)
class _Prediction:
    flops: float
    seconds: float
    parts: tuple[float, float, float]
    """IT joules of GPU, CPU and RAM."""
    band: tuple[tuple[float, float], tuple[float, float]]
    """(low, high) factors of the seconds, then of the energy."""
    method: str
    level: str


def _assemble(
    count: TokenCount, hardware: Hardware, params: EnergyParams, p: _Prediction
) -> Estimate:
    flops, seconds, parts, method, level = p.flops, p.seconds, p.parts, p.method, p.level
    (s_low, s_high), (j_low, j_high) = p.band
    energy = sum(parts) * params.pue
    return Estimate(
        tokens_real=count.real,
        tokens_padded=count.padded,
        steps=count.batches,
        flops=flops,
        seconds=seconds,
        seconds_low=seconds * s_low,
        seconds_high=seconds * s_high,
        gpu_j=parts[0],
        cpu_j=parts[1],
        ram_j=parts[2],
        pue=params.pue,
        energy_j=energy,
        low_j=energy * j_low,
        high_j=energy * j_high,
        power_w=energy / seconds if seconds > 0 else 0.0,
        method=method,
        hardware=hardware.name,
        precision=hardware.precision,
        level=level,
    )
