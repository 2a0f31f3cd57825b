"""The footprint benchmark's sums, on one job computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from benchmarks.footprint import change, footprint
from gridwait.scheduler.workload import SimJob
from tests.conftest import T0


def test_one_job_by_hand() -> None:
    # 2 GPUs, 3 hours at 1 kW: 3 kWh; run now 300 g, planned 200 g with 6 minutes of
    # resume overhead (3.1 kWh)
    job = SimJob("j", T0, 3 * 3600.0, T0 + timedelta(days=1), 2, True, 1000.0)
    row = {"id": "j", "run_now_g": 300.0, "policy_g": 200.0, "energy_kwh": 3.1}
    now = footprint({"j": job}, [row], "run_now_g", "SE")
    per_gpu_hour = (150 + 2500 / 8) * 1000 / (6 * 8760 * 0.85)
    assert now["embodied_g"] == round(per_gpu_hour * 2 * 3)  # 62 g
    assert now["water_l"] == round(3 * 1.8)  # SE: on-site only
    planned = footprint({"j": job}, [row], "policy_g", "US-TEX-ERCO")
    assert planned["embodied_g"] == round(per_gpu_hour * 2 * 3.1)
    assert planned["water_l"] == round(3.1 * (1.8 + 3.67))
    assert planned["embodied_share_pct"] == pytest.approx(
        round(100 * per_gpu_hour * 6.2 / (200 + per_gpu_hour * 6.2), 1)
    )
    assert change(now, now) == {"operational_g": 0, "embodied_g": 0, "total_g": 0, "water_l": 0}
