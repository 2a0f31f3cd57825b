"""history, report and export over runs with known numbers."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from gridwait.clock import SystemClock
from gridwait.spec import JobSpec, resolve
from gridwait.store.engine import Store
from gridwait.store.jobs import add_job
from gridwait.store.models import Budget, Run
from tests.conftest import Cli

KWH = 3.6e6
# The columns of CodeCarbon's emissions.csv, in its order (the field names of its
# EmissionsData, codecarbon/output_methods/emissions_data.py): a file with these first is
# one CodeCarbon's own tools read.
CODECARBON_COLUMNS = [
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "on_cloud",
    "pue",
    "wue",
]


def seed(db: Path, dataset: Path) -> None:
    """Two settled runs (alice/nlp: 1 kWh measured GPU + estimated CPU; bob/vision: estimated)."""
    store = Store(db, SystemClock())
    now = SystemClock().now()
    with store.write() as session:
        for owner, project, gpu_j, gpu_method, emitted, counter, embodied in (
            ("alice", "nlp", 1.0 * KWH, "nvml_counter", 300.0, 400.0, 100.0),
            ("bob", "vision", None, None, 100.0, 100.0, 10.0),
        ):
            spec = JobSpec.model_validate(
                {
                    "name": f"{owner}-job",
                    "model": "builtin:minilm",
                    "deadline": "4h",
                    "owner": owner,
                    "project": project,
                    "dataset": {"path": str(dataset)},
                }
            )
            job = add_job(session, resolve(spec, now, dataset.parent), 1, now)
            cpu_j = 0.25 * KWH
            it = (gpu_j or 0.0) + cpu_j
            session.add(
                Run(
                    job_id=job.id or 0,
                    attempt=1,
                    state="succeeded",
                    claimed_at=now,
                    started_at=now - timedelta(hours=2),
                    ended_at=now - timedelta(hours=1),
                    duration_s=3600.0,
                    energy_gpu_j=gpu_j,
                    energy_cpu_j=cpu_j,
                    energy_ram_j=0.0,
                    energy_it_j=it,
                    energy_facility_j=it * 1.2,
                    pue=1.2,
                    gpu_method=gpu_method,
                    cpu_method="estimated",
                    ram_method="estimated",
                    emissions_g=emitted,
                    counterfactual_g=counter,
                    saving_g=counter - emitted,
                    forecast_g=emitted,
                    intensity_source="actual trace",
                    tokens_real=10,
                    tokens_padded=12,
                    embodied_g=embodied,
                    embodied_method="amortised",
                    embodied_source="test figure",
                    water_l=it / KWH * 1.8,
                    water_onsite_l=it / KWH * 1.8,
                    water_method="on-site only (WUE 1.8 L/kWh); no grid water source",
                )
            )
        session.add(
            Budget(scope="project", name="nlp", monthly_g=1000.0, created_at=now, updated_at=now)
        )


def test_history(cli: Cli, env: Path, dataset: Path) -> None:
    seed(env, dataset)
    rows = json.loads(cli("history", "--json").out)
    assert [r["owner"] for r in rows] == ["alice", "bob"]
    alice = rows[0]
    assert alice["energy_kwh"] == pytest.approx(1.25 * 1.2) and alice[
        "it_energy_kwh"
    ] == pytest.approx(1.25)
    assert alice["measured_share"] == pytest.approx(0.8) and alice["saving_g"] == 100.0
    assert alice["provisional"] is False
    assert json.loads(cli("history", "--user", "bob", "--json").out)[0]["measured_share"] == 0.0
    assert json.loads(cli("history", "--since", "2999-01-01", "--json").out) == []
    bobs = json.loads(cli("history", "-j", str(rows[1]["job_id"]), "--json").out)
    assert [r["owner"] for r in bobs] == ["bob"]  # -j/--job: the runs of one job
    assert "bob" in cli("export", "--job", str(rows[1]["job_id"])).out
    assert "alice" not in cli("export", "--job", str(rows[1]["job_id"])).out
    bad = cli("history", "--until", "next week", "--json")
    assert bad.code == 2 and bad.out == ""
    assert "--until: 'next week' is not an ISO 8601 date or time" in bad.err
    table = cli("history").out
    assert "measured" in table and "estimated" in table and "settled" in table
    assert "embodied" in table and "water" in table
    assert alice["embodied_g"] == 100 and alice["total_g"] == 400
    assert alice["embodied_method"] == "amortised"
    assert alice["water_l"] == pytest.approx(1.25 * 1.8) and "on-site" in alice["water_method"]


def test_report_sums_operational_embodied_water_and_says_what_is_what(
    cli: Cli, env: Path, dataset: Path
) -> None:
    seed(env, dataset)
    nlp = json.loads(cli("report", "--by", "project", "--project", "nlp", "--json").out)[0]
    assert (nlp["emissions_g"], nlp["embodied_g"], nlp["total_g"]) == (300, 100, 400)
    assert nlp["water_l"] == pytest.approx(1.25 * 1.8)
    # alice's 300 g: 80 % of its energy metered, 20 % modelled; plus 100 g amortised
    assert nlp["measured_g_share"] == pytest.approx(240 / 400)
    assert nlp["estimated_g_share"] == pytest.approx(60 / 400)
    assert nlp["amortised_g_share"] == pytest.approx(100 / 400)
    assert nlp["reported_on"] == nlp["planned_on"] == "profile" and nlp["planning_g"] is None
    both = cli("report", "--by", "project")
    assert "operational" in both.out and "embodied" in both.out and "water" in both.out
    # the footer over both projects, 400 g operational + 110 g embodied, by hand: measured
    # 240 g, estimated 60 + 100 g (bob's energy is all modelled), amortised 110 g
    assert "of the total 510 g: 47% measured" in both.err
    assert "31% estimated" in both.err and "22% amortised" in both.err
    assert "reported on profile" in both.err


def test_report_by_project_user_month(cli: Cli, env: Path, dataset: Path) -> None:
    seed(env, dataset)
    by_project = {
        r["project"]: r for r in json.loads(cli("report", "--by", "project", "--json").out)
    }
    nlp = by_project["nlp"]
    assert (
        nlp["emissions_g"] == 300
        and nlp["saving_g"] == 100
        and nlp["saving_pct"] == pytest.approx(25.0)
    )
    assert nlp["budget_monthly_g"] == 1000 and nlp["measured_share"] == pytest.approx(0.8)
    assert by_project["vision"]["budget_monthly_g"] is None
    months = json.loads(cli("report", "--by", "month", "--json").out)
    assert len(months) == 1 and months[0]["runs"] == 2 and months[0]["emissions_g"] == 400
    assert {r["user"] for r in json.loads(cli("report", "--by", "user", "--json").out)} == {
        "alice",
        "bob",
    }
    assert "saving" in cli("report").out
    bad = cli("report", "--by", "team")
    assert bad.code == 2 and "--by: expected user, project or month" in bad.err


def test_export_codecarbon_columns(cli: Cli, env: Path, dataset: Path, tmp_path: Path) -> None:
    seed(env, dataset)
    text = cli("export", "--format", "csv").out
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[: len(CODECARBON_COLUMNS)] == CODECARBON_COLUMNS
    assert {
        "energy_consumed",
        "cpu_energy",
        "gpu_energy",
        "ram_energy",
        "pue",
        "emissions_saved",
        "cpu_method",
    } <= set(header)
    alice = rows[0]
    assert alice["country_iso_code"] == "DEU" and alice["region"] == "DE"  # the default zone
    assert float(alice["water_consumed"]) == pytest.approx(1.25 * 1.8)  # litres on site
    assert alice["os"] == alice["python_version"] == alice["codecarbon_version"] == ""
    assert float(alice["embodied_emissions"]) == pytest.approx(0.1)  # kg
    assert float(alice["total_emissions"]) == pytest.approx(0.4)  # kg
    assert float(alice["emissions"]) == pytest.approx(0.3)  # kg
    assert float(alice["energy_consumed"]) == pytest.approx(1.5)  # kWh, facility
    assert float(alice["gpu_power"]) == pytest.approx(1000.0)  # W
    out = tmp_path / "e.json"
    assert cli("export", "--format", "json", "--out", out).code == 0
    assert json.loads(out.read_text())[1]["owner"] == "bob"
    bad = cli("export", "--format", "xml")
    assert bad.code == 2 and "--format" in bad.err


def test_the_report_footer_names_both_signals_when_they_differ() -> None:
    from gridwait.app.views import ReportRow
    from gridwait.cli.review import report_footer

    row = ReportRow(
        project="nlp",
        runs=1,
        energy_kwh=3.0,
        emissions_g=300.0,
        embodied_g=100.0,
        total_g=400.0,
        water_l=5.4,
        reported_on="electricitymaps",
        planned_on="watttime",
        planning_g=2400.0,
        measured_g_share=0.75,
        estimated_g_share=0.0,
        amortised_g_share=0.25,
        counterfactual_g=350.0,
        saving_g=50.0,
        saving_pct=100 * 50 / 350,
        measured_share=1.0,
        provisional_runs=0,
        budget_monthly_g=None,
        budget_used_g=None,
        budget_used_pct=None,
    )
    signals, shares, _ = report_footer([row])
    assert signals == (
        "operational gCO2e reported on electricitymaps; jobs planned on watttime"
        " (2.40 kg on that signal, not in any total)"
    )
    assert shares.startswith("of the total 400 g: 75% measured") and "25% amortised" in shares
