"""The Now chart marks what the planner plans on beyond the forecast's reach: a lab whose
forecast reaches 3 hours ahead, and the demo's jobs planned into the day's green hours."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from gridwait.api.server import ApiServer
from gridwait.app.actor import Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import submit_remote
from gridwait.app.users import add_user, issue_token
from gridwait.cli.demo import JOBS, ZONE
from gridwait.clock import ManualClock
from gridwait.grid.profile import ProfileProvider
from tests.api.web.conftest import demo_settings, demo_spec, demo_start

HORIZON_H = 3


def test_the_profile_is_drawn_after_the_forecast_s_end_up_to_the_last_job(
    tmp_path: Path,
) -> None:
    settings = demo_settings(tmp_path)
    settings = settings.model_copy(
        update={"grid": settings.grid.model_copy(update={"horizon_hours": HORIZON_H})}
    )
    deps = Deps(settings, ManualClock(demo_start()))
    add_user(deps, host_admin(), "root", Role.ADMIN)
    token = issue_token(deps, host_admin(), "root").token
    for name, owner, project, examples, deadline, _ in JOBS:
        submit_remote(deps, host_admin(), demo_spec(name, owner, project, examples, deadline))
    server = ApiServer(deps, "127.0.0.1", 0)
    server.start()
    try:
        browser = requests.Session()
        browser.post(f"{server.url}/signin", data={"token": token}, timeout=30)
        page = browser.get(f"{server.url}/now", timeout=30).text
    finally:
        server.stop()
        deps.close()
    found = re.search(r'id="now-chart-data">(.*?)</script>', page, re.S)
    assert found
    shown = {t["name"]: t for t in json.loads(found.group(1))["data"]}
    bars = shown["planned jobs"]
    last_end = max(
        datetime.fromisoformat(b) + timedelta(milliseconds=w)
        for b, w in zip(bars["base"], bars["x"], strict=True)
    )
    now = demo_start().replace(tzinfo=None)
    assert last_end > now + timedelta(hours=HORIZON_H)  # a job sits past the forecast
    (line,) = [t for n, t in shown.items() if n.startswith("forecast")]
    forecast_end = datetime.fromisoformat(line["x"][-1])
    assert forecast_end <= now + timedelta(hours=HORIZON_H + 1)
    stand_in = shown["fallback: built-in profile"]
    drawn = {
        datetime.fromisoformat(x): y
        for x, y in zip(stand_in["x"], stand_in["y"], strict=True)
        if y is not None
    }
    assert min(drawn) == forecast_end
    assert abs(max(drawn) - last_end) < timedelta(seconds=1)  # the chart's times: whole s
    profile = ProfileProvider().forecast(ZONE, demo_start(), demo_start() + timedelta(days=2))
    times = [t.replace(tzinfo=None) for t in profile.times()]
    values = dict(zip(times, profile.values, strict=True))
    inside = sorted(drawn)[:-1]  # the last point only repeats its period's value
    assert len(inside) >= 2
    assert [drawn[at] for at in inside] == pytest.approx([values[at] for at in inside])
