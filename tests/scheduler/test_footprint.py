"""Embodied carbon, water and the two signals of a run, checked against hand arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.clock import ManualClock
from gridwait.config import FootprintSettings
from gridwait.errors import EstimateError
from gridwait.estimators.embodied import embodied_for, embodied_grams
from gridwait.estimators.water import grid_water, water
from gridwait.grid.base import IntensityProvider
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.accounting import account
from gridwait.scheduler.footprint import embodied_row
from gridwait.store.engine import Store
from gridwait.store.models import Run
from tests.conftest import T0
from tests.scheduler.test_accounting import Stepped, run_with_samples

H = timedelta(hours=1)


def test_a100_hour_matches_the_bloom_lca() -> None:
    # BLOOM: 11.2 t embodied over 1,082,990 A100 GPU-hours = 10.34 g per GPU-hour
    row = embodied_for("A100-SXM")
    assert row.g_per_hour == pytest.approx(11.2e6 / 1_082_990, rel=0.01)
    assert "Luccioni" in row.source and "Boavizta" in row.source


def test_two_gpus_for_three_hours_by_hand() -> None:
    row = embodied_for("NVIDIA H100 80GB HBM3")  # NVML's name finds the H100-SXM row
    # (150 kg + 2500/8 kg) x 1000 g / (6 y x 8760 h x 0.85) per GPU-hour, x 2 GPUs x 3 h
    by_hand = (150 + 2500 / 8) * 1000 / (6 * 8760 * 0.85) * 2 * 3
    assert embodied_grams(row, 2, 3 * 3600) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(62.1, abs=0.1)


def test_a_cpu_machine_is_its_cores_share_of_a_server() -> None:
    sixteen = embodied_for("cpu:Intel(R) Xeon(R) Gold 6338 x16")
    assert sixteen.kg == pytest.approx(2500 * 16 / 64)
    assert embodied_for("cpu-16c").g_per_hour == pytest.approx(sixteen.g_per_hour)
    with pytest.raises(EstimateError):
        embodied_for("abacus")


def test_settings_override_the_table_and_say_so() -> None:
    rate = embodied_row("A100-SXM", FootprintSettings(embodied_g_per_device_hour=25.0))
    assert rate.g_per_hour == pytest.approx(25.0) and "footprint." in rate.source
    longer = embodied_row("A100-SXM", FootprintSettings(lifetime_years=3.0))
    assert longer.g_per_hour == pytest.approx(2 * embodied_for("A100-SXM").g_per_hour)
    assert "re-amortised over 3 years" in longer.source


def test_water_by_hand() -> None:
    # 10 kWh of IT energy at PUE 1.2: 10 x 1.8 L on site, 12 x 3.67 L for US electricity
    us = water(10 * 3.6e6, 12 * 3.6e6, 1.8, grid_water("US-TEX-ERCO"))
    assert us.onsite_l == pytest.approx(18.0) and us.grid_l == pytest.approx(44.04)
    assert us.litres == pytest.approx(62.04)
    se = water(10 * 3.6e6, 12 * 3.6e6, 1.8, grid_water("SE"))
    assert se.litres == pytest.approx(18.0) and se.grid_l is None
    assert "on-site only" in se.method
    assert grid_water("SE", 1.0) is not None


def _held(store: Store, run_id: int, hardware: str, seconds: float) -> None:
    with store.write() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.hardware, run.duration_s = hardware, seconds
        run.energy_it_j, run.energy_facility_j = 2 * 3.6e6, 3 * 3.6e6
        session.add(run)


def test_account_stores_embodied_and_water_apart_from_emissions(
    tmp_path: Path, dataset: Path
) -> None:
    clock = ManualClock(T0 + 30 * H)
    store = Store(tmp_path / "f.db", clock)
    run_id = run_with_samples(store, dataset, T0 + 10 * H, 3.6e6, 2)  # 2 kWh IT, PUE 1.5
    _held(store, run_id, "cpu-16c", 2 * 3600.0)
    row = account(
        store, Stepped(), "US-CAL-CISO", clock, run_id, footprint=FootprintSettings(wue_l_per_kwh=1)
    )
    assert row.emissions_g == pytest.approx(3 * 400)  # operational only, as before
    assert row.embodied_g == pytest.approx(2500 * 16 / 64 * 1000 / (6 * 8760 * 0.85) * 2)
    assert row.embodied_method == "amortised" and "Boavizta" in (row.embodied_source or "")
    assert row.water_onsite_l == pytest.approx(2.0)  # 2 kWh IT x 1 L/kWh
    assert row.water_grid_l == pytest.approx(3 * 3.67)  # 3 kWh facility x 3.67 L/kWh
    assert row.planning_g is None  # planned and reported on the same signal


class Marginal(IntensityProvider):
    """A second signal: 800 g/kWh flat, actuals and forecasts alike."""

    name = "marginal"
    signal = "marginal"

    def _series(self, kind: str) -> IntensitySeries:
        return IntensitySeries(
            "Z",
            self.name,
            "marginal",
            kind,  # type: ignore[arg-type]
            T0,
            H,
            np.full(48, 800.0),
            issued_at=T0,
        )

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("forecast")

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("actual")


def test_planned_on_marginal_reported_on_average(tmp_path: Path, dataset: Path) -> None:
    clock = ManualClock(T0 + 30 * H)
    store = Store(tmp_path / "m.db", clock)
    run_id = run_with_samples(store, dataset, T0 + 10 * H, 3.6e6, 2)  # 3 kWh facility
    row = account(store, Stepped(), "Z", clock, run_id, planning=Marginal())
    assert row.emissions_g == pytest.approx(3 * 400)  # reported: the average signal
    assert row.intensity_source == "actual stepped"
    assert row.planning_g == pytest.approx(3 * 800)  # planned on: the marginal one
    assert row.planning_source == "actual marginal"
    assert row.forecast_g == pytest.approx(3 * 800)  # what the plan expected, on its signal
    assert row.counterfactual_g == pytest.approx(3 * 100)  # compared on the reported signal


def test_two_local_providers_from_settings_and_the_report_sums_the_reported_one(
    tmp_path: Path, dataset: Path
) -> None:
    from gridwait.app.deps import Deps
    from gridwait.app.history import RunFilter, report
    from gridwait.config import Settings
    from gridwait.grid.factory import build_provider, reporting_provider
    from tests.app.conftest import ADA

    trace = tmp_path / "flat.csv"  # a "marginal" signal: 800 g/kWh around the run
    hours = [T0 - 24 * H + i * H for i in range(96)]
    trace.write_text(
        "Time,Carbon Intensity\n" + "".join(f"{t:%Y-%m-%d %H:%M},800\n" for t in hours)
    )
    grid = {"provider": "trace", "trace": str(trace), "zone": "DE", "report_provider": "profile"}
    clock = ManualClock(T0 + 30 * H)
    deps = Deps(Settings(db=tmp_path / "two.db", grid=grid), clock)
    planning = build_provider(deps.settings, clock, deps.store())
    reporting = reporting_provider(deps.settings, clock, deps.store(), planning)
    assert (planning.name, reporting.name) == ("trace", "profile")
    same = Settings(db=tmp_path / "two.db", grid=grid | {"report_provider": None})
    assert reporting_provider(same, clock, None, planning) is planning  # the default
    run_id = run_with_samples(deps.store(), dataset, T0 + 10 * H, 3.6e6, 2)  # 3 kWh facility
    row = account(deps.store(), reporting, "DE", clock, run_id, planning=planning)
    assert row.planning_g == pytest.approx(3 * 800) and row.planning_source == "actual trace"
    assert row.emissions_g is not None and "profile" in (row.intensity_source or "")
    assert row.emissions_g != pytest.approx(row.planning_g)
    total = report(deps, ADA, "project", RunFilter())[0]
    assert total.emissions_g == pytest.approx(row.emissions_g)  # the reported signal
    assert total.planning_g == pytest.approx(3 * 800)  # beside it, in no total
    assert (total.reported_on, total.planned_on) == ("profile", "trace")
    deps.close()
