"""First-principles prior, calibration levels and bands."""

from __future__ import annotations

import numpy as np
import pytest

from gridwait.errors import EstimateError
from gridwait.estimators.batching import TokenCount
from gridwait.estimators.calibration import Observation, calibrate, fit_line
from gridwait.estimators.energy import (
    CPU_UTILISATION,
    STARTUP_S,
    STEP_OVERHEAD_S,
    EnergyParams,
    estimate,
    gpu_utilisation,
)
from gridwait.estimators.hardware import GPUS, cpu, lookup
from gridwait.estimators.model_info import ModelInfo, from_config
from gridwait.workers.detect import detect_cpu, hardware_for

INFO = ModelInfo(parameters=2_000_000, embedding_parameters=1_000_000, layers=2, hidden=128)
COUNT = TokenCount(
    examples=1000, epochs=1, batches=63, real=50_000, padded=64_000, mean_padded_length=64.0
)


def test_flops_per_token() -> None:
    assert INFO.flops_per_token(64) == 6 * 1_000_000 + 6 * 2 * 64 * 128


def test_cpu_prior_by_hand() -> None:
    machine = cpu(4, ghz=2.0, isa="avx2")  # 4 x 2 GHz x 32 = 256 GFLOP/s
    params = EnergyParams(pue=1.5, cpu_watts_per_core=10.0, ram_watts_per_gb=0.5)
    est = estimate(COUNT, INFO, machine, 0, params)
    flops = INFO.flops_per_token(64) * 64_000
    training = flops / (256e9 * CPU_UTILISATION) + 63 * STEP_OVERHEAD_S["cpu"]
    seconds = STARTUP_S["cpu"] + training
    assert est.seconds == pytest.approx(seconds)
    # all 4 cores while training, one core while starting up
    assert est.cpu_j == pytest.approx(40 * training + 10 * STARTUP_S["cpu"]) and est.gpu_j == 0
    ram_gb = 1.5 + 16 * 2_000_000 / 1e9
    assert est.ram_j == pytest.approx(ram_gb * 0.5 * seconds)
    assert est.energy_j == pytest.approx((est.cpu_j + est.ram_j) * 1.5)
    assert est.low_j == pytest.approx(est.energy_j / 2)
    assert est.high_j == pytest.approx(est.energy_j * 2)
    assert est.level == "prior" and "start-up" in est.method
    assert est.power_w == pytest.approx(est.energy_j / seconds)


EVAL = TokenCount(
    examples=200, epochs=1, batches=13, real=10_000, padded=12_800, mean_padded_length=64.0
)


def test_an_eval_set_costs_its_forward_passes() -> None:
    """A forward pass: 2N + 2 x layers x context x hidden FLOPs per token, a third of a
    training step's; charged at the training's rate, by hand for the prior."""
    assert INFO.forward_flops_per_token(64) * 3 == INFO.flops_per_token(64)
    machine = cpu(4, ghz=2.0, isa="avx2")
    alone = estimate(COUNT, INFO, machine, 0, EnergyParams())
    both = estimate(COUNT, INFO, machine, 0, EnergyParams(), evaluation=EVAL)
    eval_flops = INFO.forward_flops_per_token(64) * 12_800
    assert both.flops == pytest.approx(alone.flops + eval_flops)
    extra = eval_flops / (256e9 * CPU_UTILISATION) + 13 * STEP_OVERHEAD_S["cpu"]
    assert both.seconds == pytest.approx(alone.seconds + extra)
    assert (both.tokens_padded, both.steps) == (alone.tokens_padded, alone.steps)  # training's
    assert "eval: 12,800 padded tokens, one forward pass" in both.method
    # calibrated on tokens: the eval set counts as the training tokens of the same FLOPs
    runs = [obs(t, 5.0 + 0.001 * t, 100 + 0.02 * t) for t in (10_000, 20_000, 40_000)]
    calibrated = estimate(COUNT, INFO, machine, 0, EnergyParams(), runs, "m", EVAL)
    assert calibrated.seconds == pytest.approx(5 + 0.001 * (64_000 + 12_800 / 3))
    assert "eval: 12,800 padded tokens" in calibrated.method


def test_gpu_prior_uses_dense_peak_and_gpus() -> None:
    h100 = GPUS["H100-SXM"]
    one = estimate(COUNT, INFO, h100, 1, EnergyParams())
    two = estimate(COUNT, INFO, h100, 2, EnergyParams())
    assert one.precision == "bf16"
    compute = one.flops / (989.4e12 * gpu_utilisation(INFO.non_embedding))
    steps = 63 * STEP_OVERHEAD_S["gpu"]
    assert one.seconds == pytest.approx(STARTUP_S["gpu"] + compute + steps)
    assert two.seconds == pytest.approx(STARTUP_S["gpu"] + compute / 2 + steps)
    assert one.gpu_j == pytest.approx(700 * 0.7 * (compute + steps))


def test_utilisation_grows_with_model_size() -> None:
    assert (
        gpu_utilisation(10_000_000) < gpu_utilisation(300_000_000) < gpu_utilisation(10**10) == 0.30
    )


def obs(
    tokens: int,
    seconds: float,
    joules: float,
    model: str = "m",
    hw: str = "cpu-4c",
    flops: float | None = None,
) -> Observation:
    return Observation(
        model,
        hw,
        "fp32",
        tokens,
        flops if flops is not None else tokens * 1e7,
        seconds,
        joules,
        0.0,
        0.95,
    )


def test_one_run_gives_a_ratio() -> None:
    cal = calibrate([obs(10_000, 20.0, 400.0)], "m", "cpu-4c", "fp32")
    assert cal is not None and cal.level == "same-model"
    assert cal.seconds.slope == pytest.approx(0.002) and cal.seconds.intercept == 0
    assert cal.seconds.band == pytest.approx(0.30)


def test_three_runs_fit_an_intercept() -> None:
    runs = [obs(t, 5.0 + 0.001 * t, 100 + 0.02 * t) for t in (10_000, 20_000, 40_000)]
    cal = calibrate(runs, "m", "cpu-4c", "fp32")
    assert cal is not None
    assert cal.seconds.intercept == pytest.approx(5.0) and cal.seconds.slope == pytest.approx(0.001)
    assert cal.seconds.band == pytest.approx(0.05)  # a perfect fit still keeps a 5 % floor
    est = estimate(COUNT, INFO, cpu(4), 0, EnergyParams(), runs, "m")
    assert est.seconds == pytest.approx(5 + 0.001 * 64_000)
    assert est.energy_j == pytest.approx(100 + 0.02 * 64_000)
    assert est.cpu_j == pytest.approx(0.95 * est.energy_j) and est.level == "same-model"
    assert "calibrated on 3 run(s)" in est.method


def test_band_comes_from_residuals() -> None:
    rng = np.random.default_rng(0)
    tokens = [10_000 * k for k in range(1, 9)]
    runs = [obs(t, (2 + 0.001 * t) * (1 + rng.normal(0, 0.1)), 10.0) for t in tokens]
    line = calibrate(runs, "m", "cpu-4c", "fp32")
    assert line is not None and 0.1 < line.seconds.band < 0.4


def test_falls_back_to_same_hardware_scaled_by_flops() -> None:
    runs = [
        obs(10_000, 10.0, 200.0, model="other", flops=1e12),
        obs(20_000, 20.0, 400.0, model="other", flops=2e12),
    ]
    est = estimate(COUNT, INFO, cpu(4), 0, EnergyParams(), runs, "m")
    assert est.level == "same-hardware"
    # the prior's 8 s start-up stays; the rest scales: (10 - 8 + 20 - 8) s per 3e12 FLOPs
    assert est.seconds == pytest.approx(8.0 + est.flops * 14 / 3e12)
    assert "scaled by training FLOPs" in est.method


def test_one_run_keeps_the_start_up_cost() -> None:
    """A tiny model calibrated from one 8.5 s run of a larger one is not predicted to take
    no time: the fixed start-up (8 s on a CPU, one core busy) is kept."""
    runs = [obs(40_000, 8.5, 85.0, model="other", flops=4e12)]
    est = estimate(COUNT, INFO, cpu(4), 0, EnergyParams(), runs, "tiny")
    assert est.seconds >= 0.9 * 8.5 and est.energy_j >= 0.9 * 85.0  # the fixed part, capped


def test_other_hardware_is_not_used() -> None:
    runs = [obs(10_000, 10.0, 200.0, hw="cpu-64c")]
    assert estimate(COUNT, INFO, cpu(4), 0, EnergyParams(), runs, "m").level == "prior"


def test_fit_guards() -> None:
    line = fit_line([1.0, 2.0, 3.0], [10.0, 5.0, 1.0])  # a negative slope is not physical
    assert line.intercept == 0 and line.slope > 0


def test_hardware_table_and_detection() -> None:
    assert lookup("NVIDIA H100 80GB HBM3").name == "H100-SXM"
    assert lookup("NVIDIA L40S").name == "L40S" and lookup("NVIDIA L4").name == "L4"
    assert (
        lookup("NVIDIA A100-SXM4-80GB").name == "A100-SXM"
        and lookup("Tesla T4").precision == "fp16"
    )
    with pytest.raises(EstimateError, match="unknown hardware"):
        lookup("abacus")
    info = "processor\t: 0\nmodel name\t: Some CPU @ 3.00GHz\nflags\t\t: fpu avx2 fma\nprocessor\t: 1\n"
    machine = detect_cpu(info)
    assert machine.cores == 2 and machine.peak() == pytest.approx(2 * 3.0 * 32 * 1e9)
    row, note = hardware_for(1)
    assert row.kind == "gpu" and (note is None or "assumed" in note)
    assert hardware_for(0, "H100-SXM")[0].kind == "cpu"  # a CPU job runs on the CPU
    with pytest.raises(EstimateError, match="not a GPU"):
        hardware_for(2, "cpu-16c")


def test_every_row_cites_a_source() -> None:
    for row in GPUS.values():
        assert "datasheet" in row.source or "whitepaper" in row.source
        assert row.power_w > 0 and row.peak() > 0


def test_analytic_counts_match_transformers() -> None:
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        BertConfig,
        GPT2Config,
        LlamaConfig,
    )

    configs = [
        (
            BertConfig(
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=128,
                vocab_size=300,
            ),
            "sequence-classification",
        ),
        (
            GPT2Config(
                n_embd=32,
                n_layer=2,
                n_head=2,
                vocab_size=300,
                n_positions=64,
                bos_token_id=0,
                eos_token_id=0,
            ),
            "causal-lm",
        ),
        (
            LlamaConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                vocab_size=300,
            ),
            "causal-lm",
        ),
    ]
    for config, task in configs:
        factory = (
            AutoModelForCausalLM if task == "causal-lm" else AutoModelForSequenceClassification
        )
        with torch.device("meta"):
            net = factory.from_config(config)
        ours = from_config(config.to_dict(), task, 2)
        assert ours is not None and ours.parameters == sum(p.numel() for p in net.parameters()), (
            config.model_type
        )
