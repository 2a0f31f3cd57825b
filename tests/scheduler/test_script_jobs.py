"""Script jobs end to end on the real service (`gridwait run --clock sim:F`): the
researcher's own command planned, started, measured and accounted like a built-in job;
and the built-in job's LoRA example with its eval set and gradient accumulation."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Cli, write_spec
from tests.scheduler.test_service import DACF_DE, flat_trace, rows, service, settings_file
from tests.workers.conftest import DEMO

pytestmark = pytest.mark.slow


def test_a_declared_script_is_planned_on_its_duration_and_accounted(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    settings_file(tmp_path, DACF_DE)
    (tmp_path / "work.py").write_text(
        "import os, time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.5: pass\n"
        "open('ran-' + os.environ['GRIDWAIT_RUN_ID'], 'w').close()\n"
    )
    spec = write_spec(
        tmp_path,
        'kind = "script"\nname = "own"\ncommand = ["python", "work.py"]\n'
        'duration = "2s"\npower_w = 150\ndeadline = "30h"\n',
        name="own.toml",
    )
    estimate = json.loads(cli("estimate", spec, "--json").out)
    assert estimate["seconds"] == 2 and estimate["tokens_real"] == 0
    assert estimate["method"].startswith("declared: 2 s at 150 W (declared)")
    assert estimate["energy_kwh"] == pytest.approx(300 / 3.6e6)  # 150 W x 2 s, PUE 1
    submitted = cli("submit", spec)
    assert submitted.code == 0, submitted.err
    done = service(env, "--until-idle", "--clock", "sim:3600", "--timeout", "240")
    assert done.returncode == 0, done.stderr[-3000:]
    [job] = rows(env, "SELECT * FROM jobs")
    start, end = (datetime.fromisoformat(job[k]) for k in ("planned_start", "planned_end"))
    # the declared 2 s of work, stretched like every job's on a clock 3600 x fast: 2 h
    assert (end - start).total_seconds() == pytest.approx(7200, abs=60)
    [run] = rows(env, "SELECT * FROM runs")
    assert run["state"] == "succeeded" and (tmp_path / f"ran-{run['id']}").exists()
    assert run["energy_facility_j"] > 0 and run["cpu_method"] == "estimated"
    assert run["emissions_g"] > 0 and run["counterfactual_g"] is not None
    assert run["saving_g"] is not None and run["tokens_real"] is None  # no tally declared


def test_a_counted_script_reports_the_tokens_it_trained(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    """The script writes its tally as GridwaitCallback does; tokens are counted for the
    estimate from model + dataset exactly as for a built-in job."""
    settings_file(tmp_path, DACF_DE)
    (tmp_path / "tally.py").write_text(
        "import json, os\n"
        "json.dump({'tokens_real': 1234, 'tokens_padded': 2048, 'steps': 3, 'total_steps': 3,"
        " 'final_loss': 0.5, 'examples': 48}, open(os.environ['GRIDWAIT_RESULT_FILE'], 'w'))\n"
    )
    spec = write_spec(
        tmp_path,
        f'kind = "script"\nname = "counted"\ncommand = ["python", "tally.py"]\n'
        f'model = "builtin:minilm"\nmax_length = 32\ndeadline = "30h"\n'
        f'[dataset]\npath = "{DEMO}"\nlimit = 48\n',
        name="counted.toml",
    )
    assert json.loads(cli("estimate", spec, "--json").out)["tokens_real"] > 0
    submitted = cli("submit", spec)
    assert submitted.code == 0, submitted.err
    done = service(env, "--until-idle", "--clock", "sim:3600", "--timeout", "240")
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = rows(env, "SELECT * FROM runs")
    assert run["state"] == "succeeded"
    assert run["tokens_real"] == 1234 and run["tokens_padded"] == 2048 and run["steps"] == 3
    assert run["flops"] > 0 and run["emissions_g"] > 0


def test_the_example_script_reports_the_estimated_tokens(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    """config/script.example.toml as shipped: examples/train_script.py, a real Trainer
    with GridwaitCallback, trains on exactly the tokens the estimator counted. A flat
    trace: at sim:60 a greener window a day away would be 24 real minutes off."""
    settings_file(tmp_path, flat_trace(tmp_path))
    example = Path(__file__).resolve().parents[2] / "config" / "script.example.toml"
    submitted = cli("submit", example)
    assert submitted.code == 0, submitted.err
    # sim:60, not 3600: a minute of plan a real second, so that the script (about 10 s
    # with its imports) fits in one of the interruptible job's green segments
    done = service(env, "--until-idle", "--clock", "sim:60", "--timeout", "240")
    assert done.returncode == 0, done.stderr[-3000:]
    [job] = rows(env, "SELECT * FROM jobs")
    [run] = rows(env, "SELECT * FROM runs")
    assert run["state"] == "succeeded", Path(run["log_path"]).read_text()[-3000:]
    assert (run["tokens_real"], run["tokens_padded"]) == (
        job["est_tokens_real"],
        job["est_tokens_padded"],
    )
    assert run["steps"] == run["total_steps"] == 5  # 40 examples, batch 8, 1 epoch
    assert run["final_loss"] is not None and run["flops"] > 0
    assert run["energy_facility_j"] > 0 and run["emissions_g"] > 0
    assert run["counterfactual_g"] is not None and run["saving_g"] is not None
    log = Path(run["log_path"]).read_text()
    assert "gridwait/energy_kwh" in log  # the Trainer's own log lines carry the energy


def test_the_lora_example_trains_adapters_and_stores_its_eval(
    cli: Cli, env: Path, tmp_path: Path
) -> None:
    """config/lora.example.toml as shipped: LoRA adapters, two batches a step, and an eval
    set whose loss and accuracy end up on the run and in `gridwait show`."""
    settings_file(tmp_path, flat_trace(tmp_path))
    example = Path(__file__).resolve().parents[2] / "config" / "lora.example.toml"
    estimate = json.loads(cli("estimate", example, "--json").out)
    assert "LoRA" in estimate["method"] and "eval: " in estimate["method"]
    assert estimate["steps"] == 15  # 480 examples in 30 batches of 16, two a step
    submitted = cli("submit", example)
    assert submitted.code == 0, submitted.err
    done = service(env, "--until-idle", "--clock", "sim:60", "--timeout", "300")
    assert done.returncode == 0, done.stderr[-3000:]
    [job] = rows(env, "SELECT * FROM jobs")
    runs = rows(env, "SELECT * FROM runs ORDER BY id")
    last = runs[-1]
    assert last["state"] == "succeeded", Path(last["log_path"]).read_text()[-3000:]
    assert last["steps"] == last["total_steps"] == 15
    assert sum(r["tokens_padded"] or 0 for r in runs) == job["est_tokens_padded"]
    assert last["eval_examples"] == 120
    assert last["eval_loss"] > 0 and 0 <= last["eval_accuracy"] <= 1
    shown = json.loads(cli("show", "1", "--json").out)
    assert shown["runs"][-1]["eval_accuracy"] == last["eval_accuracy"]
    text = cli("show", "1").out
    assert f"eval on 120 examples: loss {last['eval_loss']:.3g}" in text
