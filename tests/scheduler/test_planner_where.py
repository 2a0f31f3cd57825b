"""Where and when: several launch targets in zones of different intensity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from gridwait.grid.series import IntensitySeries
from gridwait.scheduler.planner import PlanJob, Running, Site, plan, plan_where

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)


def hourly(zone: str, values: list[float]) -> IntensitySeries:
    return IntensitySeries(
        zone, "test", "average", "forecast", T0, H, np.array(values, dtype=float), issued_at=T0
    )


def job(i: int, hours: float, deadline_h: float, gpus: int = 1, **kw: object) -> PlanJob:
    return PlanJob(i, hours * 3600, 1000.0, gpus, T0, T0 + H * deadline_h, **kw)  # type: ignore[arg-type]


DIRTY = hourly("ERCO", [400] * 12)
CLEAN = hourly("CISO", [200] * 12)


def test_a_job_lands_in_the_cleaner_zone_and_the_plan_says_why() -> None:
    sites = [Site("box", "ERCO", DIRTY, 1), Site("cluster", "CISO", CLEAN, 1)]
    [p] = plan_where(T0, [job(1, 2, 12)], sites)
    assert (p.target, p.zone) == ("cluster", "CISO")
    assert p.forecast_g == pytest.approx(2 * 200)
    assert p.where == "box (ERCO) 800 g vs cluster (CISO) 400 g forecast: cluster (CISO) saves 50 %"


def test_when_the_clean_target_is_full_the_next_job_goes_to_the_other_or_waits() -> None:
    # CISO is cleanest now, ERCO is cleaner than CISO's later hours: job 2 cannot have
    # CISO's clean hours (job 1 holds its one GPU) and ERCO now beats waiting on CISO
    clean_now = hourly("CISO", [100, 100, 500, 500, 500, 500, 500, 500])
    middling = hourly("ERCO", [300] * 8)
    sites = [Site("box", "ERCO", middling, 1), Site("cluster", "CISO", clean_now, 1)]
    first, second = plan_where(T0, [job(1, 2, 6), job(2, 2, 6)], sites)
    assert (first.job_id, first.zone, first.start) == (1, "CISO", T0)
    assert (second.job_id, second.zone, second.start) == (2, "ERCO", T0)
    assert second.forecast_g == pytest.approx(600)
    assert "ERCO" in (second.where or "") and "saves 40 %" in (second.where or "")
    # where the clean zone's later hours beat the other zone, the job waits for them
    later_clean = hourly("CISO", [100, 100, 150, 150, 500, 500, 500, 500])
    sites = [Site("box", "ERCO", middling, 1), Site("cluster", "CISO", later_clean, 1)]
    first, second = plan_where(T0, [job(1, 2, 6), job(2, 2, 6)], sites)
    assert (second.zone, second.start) == ("CISO", T0 + 2 * H)


def test_a_target_whose_gpus_are_held_by_running_jobs_is_skipped() -> None:
    busy = [Running(2, T0 + 12 * H)]
    sites = [Site("box", "ERCO", DIRTY, 2), Site("cluster", "CISO", CLEAN, 2, busy)]
    [p] = plan_where(T0, [job(1, 2, 8)], sites)
    assert p.zone == "ERCO" and not p.late
    assert p.where is not None and p.where.startswith("cluster (CISO) cannot finish")


def test_a_job_confined_to_one_target_stays_there() -> None:
    sites = [Site("box", "ERCO", DIRTY, 1), Site("cluster", "CISO", CLEAN, 1)]
    [p] = plan_where(T0, [job(1, 2, 12, targets=("box",))], sites)
    assert p.target == "box" and p.where is None


def test_equal_zones_tie_to_the_target_listed_first() -> None:
    sites = [Site("a", "ERCO", DIRTY, 1), Site("b", "ERCO", DIRTY, 1)]
    [p] = plan_where(T0, [job(1, 2, 12)], sites)
    assert p.target == "a" and "listed first" in (p.where or "")


def test_one_target_is_exactly_the_single_zone_planner() -> None:
    forecast = hourly("Z", [400, 300, 100, 100, 250, 400, 90, 90, 400, 400, 400, 400])
    jobs = [job(1, 2, 12), job(2, 1.5, 9), job(3, 2, 10, interruptible=True), job(4, 1, 4)]
    alone = plan(T0, jobs, forecast, 1, [Running(1, T0 + H)])
    where = plan_where(T0, jobs, [Site("box", "Z", forecast, 1, [Running(1, T0 + H)])])
    assert [(p.job_id, p.segments, p.forecast_g, p.late) for p in where] == [
        (p.job_id, p.segments, p.forecast_g, p.late) for p in alone
    ]
    assert {p.target for p in where} == {"box"}
