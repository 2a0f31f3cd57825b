"""Recorded provider answers (../shared/fixtures) and the two we build ourselves where no
recording exists, in exactly the documented shape."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures"


def recorded(name: str) -> Any:
    """A recorded answer: `provider/file.json` under shared/fixtures."""
    return json.loads((FIXTURES / name).read_text())


def recorded_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def built_em_forecast_72h(start: datetime, v4: bool = False) -> dict[str, Any]:
    """BUILT, not recorded: a full 72 h Electricity Maps forecast in the documented v3
    shape (hourly `YYYY-MM-DDTHH:00:00.000Z`, only carbonIntensity + datetime per item).
    No public recording of a real forecast exists (shared/reference/intensity-apis.md)."""
    rng = random.Random(3)
    items = []
    for h in range(72):
        when = start + timedelta(hours=h)
        daily = 250 + 120 * ((when.hour - 3) % 24 < 12)  # a cleaner night, a dirtier day
        items.append({"carbonIntensity": daily + rng.randint(-20, 20), "datetime": em_time(when)})
    body: dict[str, Any] = {
        "zone": "DE",
        "forecast": items,
        "updatedAt": em_time(start - timedelta(minutes=12)),
    }
    if v4:
        body["temporalGranularity"] = "hourly"
    return body


def built_watttime_forecast(start: datetime, hours: int = 2) -> dict[str, Any]:
    """BUILT, not recorded: a WattTime /v3/forecast answer, the guide's point shape
    repeated every 300 s (the guide's own example elides the points with `...`)."""
    points = [
        {
            "point_time": (start + timedelta(minutes=5 * i)).isoformat(),
            "value": 900.0 + (i % 12) * 10.0,
        }
        for i in range(hours * 12)
    ]
    return {
        "data": points,
        "meta": {
            "data_point_period_seconds": 300,
            "region": "CAISO_NORTH",
            "warnings": [],
            "signal_type": "co2_moer",
            "model": {"date": "2023-03-01"},
            "units": "lbs_co2_per_mwh",
            "generated_at_period_seconds": 300,
            "generated_at": start.isoformat(),
        },
    }


def em_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
