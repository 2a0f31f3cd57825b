"""Run accounting: actual emissions, forecast, counterfactual, provisional and settled."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gridwait.clock import ManualClock
from gridwait.errors import ProviderNoData
from gridwait.grid.base import IntensityProvider
from gridwait.grid.chain import to_rows
from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.accounting import account, settle
from gridwait.spec import resolve
from gridwait.store.engine import Store
from gridwait.store.intensity import save_points
from gridwait.store.jobs import add_job
from gridwait.store.models import EnergySample, Run
from gridwait.workers.launchers.local import LocalLauncher
from tests.conftest import T0, minilm_spec

H = timedelta(hours=1)


class Stepped(IntensityProvider):
    """100 g/kWh for the first six hours from T0, 400 after; actuals can be withheld."""

    name = "stepped"
    signal = "average"

    def __init__(self) -> None:
        self.published = True

    def _series(
        self, kind: str, start: datetime, end: datetime, scale: float = 1.0
    ) -> IntensitySeries:
        values = np.array([100.0 * scale] * 6 + [400.0 * scale] * 42)
        return IntensitySeries("Z", self.name, "average", kind, T0, H, values, issued_at=T0)  # type: ignore[arg-type]

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series("forecast", start, end, scale=1.1)

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        if not self.published:
            raise ProviderNoData(self.name, "not published yet")
        return self._series("actual", start, end)


def run_with_samples(
    store: Store, dataset: Path, start: datetime, joules_per_hour: float, hours: int
) -> int:
    spec = minilm_spec("a", "40h", dataset)
    with store.write() as session:
        job = add_job(session, resolve(spec, T0, dataset.parent), 1, T0)
        run = Run(
            job_id=job.id or 0,
            attempt=1,
            state="succeeded",
            claimed_at=start,
            started_at=start,
            pue=1.5,
        )
        session.add(run)
        session.flush()
        for h in range(hours + 1):
            session.add(
                EnergySample(
                    run_id=run.id or 0,
                    at=start + h * H,
                    elapsed_s=h * 3600.0,
                    cpu_j=joules_per_hour * h * 0.9,
                    ram_j=joules_per_hour * h * 0.1,
                    cpu_method="estimated",
                    ram_method="estimated",
                )
            )
    return run.id or 0


def test_emissions_counterfactual_and_saving(tmp_path: Path, dataset: Path) -> None:
    store = Store(tmp_path / "a.db", ManualClock(T0 + 30 * H))
    # 1 kWh of IT energy an hour for 2 hours, from T0 + 10 h (at 400 g/kWh); submitted at T0
    run_id = run_with_samples(store, dataset, T0 + 10 * H, 3.6e6, 2)
    row = account(store, Stepped(), "Z", ManualClock(T0 + 30 * H), run_id)
    facility_kwh = 2 * 1.5
    assert row.emissions_g == pytest.approx(facility_kwh * 400)
    assert row.forecast_g == pytest.approx(facility_kwh * 440)
    assert row.counterfactual_g == pytest.approx(
        facility_kwh * 100
    )  # started at submission: 100 g/kWh
    assert row.saving_g == pytest.approx(
        facility_kwh * (100 - 400)
    )  # a bad choice shows as a negative saving
    assert not row.emissions_provisional and row.intensity_source == "actual stepped"


def test_provisional_until_actuals_are_published(tmp_path: Path, dataset: Path) -> None:
    clock = ManualClock(T0 + 12 * H)
    store = Store(tmp_path / "p.db", clock)
    run_id = run_with_samples(store, dataset, T0 + 1 * H, 3.6e6, 2)
    provider = Stepped()
    provider.published = False
    row = account(store, provider, "Z", clock, run_id)
    assert row.emissions_provisional and row.emissions_g == pytest.approx(3 * 110)
    assert "provisional" in (row.intensity_source or "")
    assert settle(store, provider, "Z", clock) == (0, 1)
    provider.published = True
    assert settle(store, provider, "Z", clock) == (1, 0)
    with store.read() as session:
        settled = session.get(Run, run_id)
    assert settled is not None and not settled.emissions_provisional
    assert settled.emissions_g == pytest.approx(3 * 100)


def test_a_run_without_energy(tmp_path: Path, dataset: Path) -> None:
    store = Store(tmp_path / "e.db", ManualClock(T0))
    run_id = run_with_samples(store, dataset, T0, 0.0, 0)
    row = account(store, Stepped(), "Z", ManualClock(T0), run_id)
    assert row.emissions_g == 0.0 and row.intensity_source == "no energy measured"


class ActualsFallBack(Stepped):
    """A provider behind the fallback chain whose actuals are not out: the chain answers
    with the built-in profile, marked as a stand-in (never an error)."""

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        series = self._series("actual", start, end, scale=3.0)
        return series.with_fallback("built-in profile, because not published yet")


def test_provisional_emissions_use_the_stored_forecast_the_plan_used(
    tmp_path: Path, dataset: Path
) -> None:
    clock = ManualClock(T0 + 12 * H)
    store = Store(tmp_path / "f.db", clock)
    planned = Stepped()._series("forecast", T0, T0 + 48 * H, scale=1.2)
    with store.write() as session:
        save_points(session, to_rows(planned, T0))  # fetched at T0, before the run began
    run_id = run_with_samples(store, dataset, T0 + 1 * H, 3.6e6, 2)
    row = account(store, ActualsFallBack(), "Z", clock, run_id)
    assert row.emissions_provisional
    assert row.emissions_g == pytest.approx(3 * 120)  # 3 kWh x the stored 120 g/kWh, not 300
    assert row.intensity_source == "stored forecast stepped issued 2026-03-02 09:00 (provisional)"


def test_a_lost_run_keeps_its_partial_energy_and_duration(tmp_path: Path, dataset: Path) -> None:
    """The reaper settles a run whose worker vanished: what it measured stays on the run,
    so history shows its energy beside its emissions."""
    from gridwait.config import Settings
    from gridwait.scheduler.service import Service

    clock = ManualClock(T0 + 12 * H)
    store = Store(tmp_path / "l.db", clock)
    run_id = run_with_samples(store, dataset, T0 + 1 * H, 3.6e6, 2)
    with store.write() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.state, run.pue = "running", None
        session.add(run)
    settings = Settings(db=tmp_path / "l.db", energy={"pue": 1.5})
    service = Service(settings, clock, store, Stepped(), LocalLauncher())
    service._settle_lost(run_id, "worker exited (code -9) without reporting")
    with store.read() as session:
        lost = session.get(Run, run_id)
    assert lost is not None and lost.state == "lost"
    assert lost.energy_it_j == pytest.approx(2 * 3.6e6)
    assert lost.energy_facility_j == pytest.approx(3 * 3.6e6) and lost.pue == 1.5
    assert lost.duration_s == pytest.approx(2 * 3600.0)
    assert lost.cpu_method == "estimated" and lost.emissions_g == pytest.approx(3 * 100)
