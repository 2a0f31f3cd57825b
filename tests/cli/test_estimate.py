"""`gridwait estimate` and the estimate stored at submission."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli, count_rows, write_spec

ROOT = Path(__file__).resolve().parents[2]


def test_estimate_json(cli: Cli) -> None:
    result = cli("estimate", ROOT / "config" / "job.example.toml", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["tokens_padded"] >= data["tokens_real"] > 0
    assert data["steps"] == 30  # 480 examples, batch 16, 1 epoch
    assert data["energy_low_kwh"] < data["energy_kwh"] < data["energy_high_kwh"]
    assert data["level"] == "prior" and data["precision"] == "fp32"
    assert data["seconds"] > 0 and data["power_w"] > 0


def test_estimate_table_and_gpu_hardware(cli: Cli, tmp_path: Path, dataset: Path) -> None:
    spec = write_spec(
        tmp_path,
        'name = "g"\nmodel = "builtin:minilm"\ngpus = 2\ndeadline = "2h"\n[dataset]\npath = "data/reviews.csv"\n',
    )
    result = cli("estimate", spec, "--hardware", "H100-SXM")
    assert result.code == 0, result.err
    assert "H100-SXM (bf16)" in result.out and "padded" in result.out and "method" in result.out
    bad = cli("estimate", spec, "--hardware", "abacus")
    assert bad.code == 2 and bad.err.startswith("error: unknown hardware 'abacus'")


def test_submit_stores_the_estimate(cli: Cli, env: Path, spec_file: Path) -> None:
    assert cli("submit", spec_file).code == 0
    est = json.loads(cli("show", "1", "--json").out)["estimate"]
    assert est["tokens_padded"] >= est["tokens_real"] > 0
    assert est["energy_kwh"] > 0 and est["seconds"] > 0 and est["method"].startswith("prior")
    assert count_rows(env, "token_lengths") == 1
    cli("submit", spec_file)  # the second submission reuses the cached lengths
    assert count_rows(env, "token_lengths") == 1


def test_unreadable_dataset_is_refused_at_submission(cli: Cli, env: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "x.csv").write_text("body,label\nhello,1\n")
    spec = write_spec(
        tmp_path,
        'name = "x"\nmodel = "builtin:minilm"\ndeadline = "2h"\n[dataset]\npath = "data/x.csv"\n',
    )
    result = cli("submit", spec)
    assert result.code == 2 and "has no column 'text'" in result.err  # a bad spec: exit 2
    assert count_rows(env) == 0
