"""`gridwait plan`, `gridwait budget` and `gridwait simulate` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SHARED, Cli, CliResult, count_rows


def generate(cli: Cli, kind: str, start: str, end: str, out: Path) -> CliResult:
    """`gridwait simulate --generate`: a jobs file of `kind` between `start` and `end`."""
    return cli("simulate", "--generate", kind, "--start", start, "--end", end, "--out", out)


def test_plan_shows_windows_and_writes_nothing(cli: Cli, env: Path, spec_file: Path) -> None:
    assert cli("submit", spec_file).code == 0
    result = cli("plan", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    [row] = data["jobs"]
    assert row["status"] in ("planned", "late") and row["forecast_g"] > 0
    assert row["saving_g"] == row["run_now_g"] - row["forecast_g"]
    assert json.loads(cli("show", "1", "--json").out)["state"] == "queued"  # a dry run
    assert "run now" in cli("plan").out


def test_budget_holds_a_job_with_the_reason(cli: Cli, env: Path, spec_file: Path) -> None:
    cli("submit", spec_file)
    assert cli("budget", "set", "--user", "alice", "--monthly", "0.0001g").code == 0
    data = json.loads(cli("plan", "--json").out)
    [row] = data["jobs"]
    assert row["status"] == "held"
    assert row["reason"].startswith("user alice budget") and "would exceed it by" in row["reason"]
    cli("budget", "set", "--user", "alice", "--monthly", "40kg")
    assert json.loads(cli("plan", "--json").out)["jobs"][0]["status"] != "held"
    listing = json.loads(cli("budget", "list", "--json").out)
    assert listing[0] == {**listing[0], "scope": "user", "name": "alice", "monthly_g": 40000.0}
    assert {"used_g", "committed_g", "left_g", "month"} <= set(listing[0])
    assert cli("budget", "rm", "--user", "alice").code == 0
    assert json.loads(cli("budget", "list", "--json").out) == []
    missing = cli("budget", "rm", "--user", "alice")
    assert missing.code == 1 and "no budget for user 'alice'" in missing.err


def test_budget_input_errors(cli: Cli, env: Path) -> None:
    assert cli("budget", "set", "--monthly", "40kg").code == 2
    both = cli("budget", "set", "--user", "a", "--project", "p", "--monthly", "40kg")
    assert both.code == 2 and "exactly one of --user or --project" in both.err
    bad = cli("budget", "set", "--user", "a", "--monthly", "forty")
    assert bad.code == 2 and "--monthly: 'forty' is not a mass" in bad.err
    assert count_rows(env, "budgets") == 0


def test_simulate_generate_then_backtest(cli: Cli, tmp_path: Path) -> None:
    trace = SHARED / "data" / "traces" / "dacf" / "SE_2021H2_forecast_and_actual.csv"
    jobs = tmp_path / "jobs.csv"
    made = generate(cli, "weekday-ml", "2021-09-06", "2021-09-18", jobs)
    assert made.code == 0 and jobs.read_text().startswith("id,submit_time,duration_minutes")
    out = tmp_path / "result.json"
    result = cli(
        "simulate",
        "--trace",
        trace,
        "--jobs",
        jobs,
        "--forecast",
        "column:carbon_from_src_forecasts",
        "--gpus",
        "16",
        "--poll-minutes",
        "30",
        "--per-job",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    data = json.loads(out.read_text())
    assert set(data) >= {
        "jobs",
        "energy_kwh",
        "emissions_g",
        "savings_pct",
        "deadline_misses",
        "late_jobs",
        "runtime_s",
        "per_job",
    }
    assert set(data["emissions_g"]) == {"run_now", "policy", "oracle"}
    assert data["capacity_gpus"] == 16 and len(data["per_job"]) == data["jobs"]
    assert "saving" in result.out


def test_simulate_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    trace = SHARED / "data" / "traces" / "dacf" / "SE_2021H2_forecast_and_actual.csv"
    jobs = tmp_path / "jobs.csv"
    generate(cli, "nightly", "2021-09-06", "2021-09-10", jobs)

    def simulate(*flags: str) -> CliResult:
        return cli(
            "simulate", "--trace", trace, "--jobs", jobs, *flags, "--out", tmp_path / "r.json"
        )

    bad_mode = simulate("--forecast", "magic")
    assert bad_mode.code == 2 and "unknown forecast mode 'magic'" in bad_mode.err
    bad_oracle = simulate("--forecast", "oracle:x:column")
    # printed as typed: ":x:" is not turned into an emoji
    assert bad_oracle.code == 2 and "'oracle:x:column': expected oracle:H:" in bad_oracle.err
    no_file = cli(
        "simulate", "--trace", tmp_path / "none.csv", "--jobs", jobs, "--out", tmp_path / "r.json"
    )
    assert no_file.code == 2 and "no such trace file" in no_file.err
    missing = cli("simulate", "--trace", trace, "--out", tmp_path / "r.json")
    assert missing.code == 2 and "needs --trace and --jobs" in missing.err
    bad_start = simulate("--start", "soon")
    assert bad_start.code == 2
    assert "--start: 'soon' is not an ISO 8601 date or time" in bad_start.err
    stray = simulate("--end", "2021-09-08")
    assert stray.code == 2 and "--start and --end go with --generate" in stray.err
    assert not (tmp_path / "r.json").exists()


def test_simulate_two_targets_reports_where_when_against_when_only(
    cli: Cli, tmp_path: Path
) -> None:
    dacf = SHARED / "data" / "traces" / "dacf"
    jobs = tmp_path / "jobs.csv"
    generate(cli, "weekday-ml", "2021-09-06", "2021-09-11", jobs)
    out = tmp_path / "result.json"
    result = cli(
        "simulate",
        "--target",
        f"ERCO={dacf / 'ERCO_2021H2_forecast_and_actual.csv'}",
        "--target",
        f"CISO={dacf / 'CISO_2021H2_forecast_and_actual.csv'}",
        "--jobs",
        jobs,
        "--forecast",
        "column:carbon_from_src_forecasts",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    data = json.loads(out.read_text())
    grams = data["emissions_g"]
    assert grams["where_when"] <= grams["when_only"] <= grams["run_now"]
    assert set(data["targets"]) == {"ERCO", "CISO"}
    assert "where+when over when-only" in result.out
    twice = cli("simulate", "--target", "A=x.csv", "--target", "A=y.csv", "--jobs", jobs,
                "--out", out)  # fmt: skip
    assert twice.code == 2 and "'A' is named twice" in twice.err
    lone = cli("simulate", "--target", "A=x.csv", "--jobs", jobs, "--out", out)
    assert lone.code == 2 and "name two targets or more" in lone.err
    bad = cli("simulate", "--target", "nameless.csv", "--target", "B=y", "--jobs", jobs,
              "--out", out)  # fmt: skip
    assert bad.code == 2 and "expected NAME=TRACE.csv" in bad.err
