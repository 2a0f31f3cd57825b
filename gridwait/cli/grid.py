"""`gridwait forecast`: the coming hours, where the numbers come from, and the greenest
start for jobs of 1, 2, 4 and 8 hours."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from gridwait.cli.context import JsonFlag, app_context, emit_json, note, out
from gridwait.config import ProviderName

BARS = "▁▂▃▄▅▆▇█"
JOB_HOURS = (1, 2, 4, 8)


def register(app: typer.Typer) -> None:
    app.command()(forecast)


def forecast(
    ctx: typer.Context,
    provider: Annotated[
        ProviderName | None, typer.Option(help="Provider (default: [grid] provider).")
    ] = None,
    zone: Annotated[str | None, typer.Option(help="Zone (default: [grid] zone).")] = None,
    hours: Annotated[int, typer.Option(min=1, max=168, help="Hours ahead to show.")] = 24,
    as_json: JsonFlag = False,
) -> None:
    """Show the carbon-intensity forecast and the greenest start for 1-8 h jobs."""
    from gridwait.grid.factory import build_provider
    from gridwait.scheduler.windows import greenest_window

    app = app_context(ctx)
    settings = app.settings
    chain = build_provider(settings, app.clock, app.store(), provider)
    zone = zone or settings.grid.zone
    now = app.clock.now()
    series = chain.forecast(zone, now, now + timedelta(hours=hours))
    best = {}
    for h in JOB_HOURS:
        window = greenest_window(series, timedelta(hours=h), earliest=now)
        best[h] = window
    if as_json:
        emit_json(_as_json(series, best))
        return
    _print(series, best)


def _rows(series: Any) -> list[tuple[Any, float]]:
    """(time, value) rows, hourly means when the series is finer than an hour."""
    per_hour = max(1, round(3600 / series.resolution_s))
    times, values = series.times(), series.values
    rows = []
    for i in range(0, len(values), per_hour):
        chunk = values[i : i + per_hour]
        rows.append((times[i], float(chunk.mean()) if len(chunk) else float("nan")))
    return rows


def _print(series: Any, best: dict[int, Any]) -> None:
    source = f"{series.source} ({series.signal} signal, zone {series.zone})"
    out.print(f"forecast from {source}, issued {series.issued_at:%Y-%m-%d %H:%M} UTC", markup=False)
    if series.fallback:
        note(f"FALLBACK: {series.fallback}")
    if series.note:
        out.print(f"  {series.note}", markup=False)
    rows = _rows(series)
    finite = [v for _, v in rows if not math.isnan(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    table = Table("time (UTC)", "gCO2eq/kWh", "")
    for when, value in rows:
        level = 0 if high == low or math.isnan(value) else round((value - low) / (high - low) * 7)
        table.add_row(
            f"{when:%a %H:%M}",
            "-" if math.isnan(value) else f"{value:.0f}",
            BARS[level] * (level + 1),
        )
    out.print(table)
    for hours, window in best.items():
        if window is None:
            out.print(f"  {hours} h job: the forecast is too short", markup=False)
        else:
            filled = (
                f" ({window.fallback_share:.0%} of it in gaps, at the forecast's mean)"
                if window.fallback_share > 0
                else ""
            )
            out.print(
                f"  {hours} h job: start {window.start:%a %H:%M} UTC,"
                f" mean {window.mean_intensity:.0f} gCO2eq/kWh{filled}",
                markup=False,
            )


def _as_json(series: Any, best: dict[int, Any]) -> dict[str, Any]:
    return {
        "provider": series.source,
        "zone": series.zone,
        "signal": series.signal,
        "unit": "gCO2eq/kWh",
        "issued_at": series.issued_at,
        "resolution_s": series.resolution_s,
        "fallback": series.fallback,
        "note": series.note,
        "points": [
            {"start": t, "value": None if math.isnan(v) else float(v)}
            for t, v in zip(series.times(), series.values, strict=True)
        ],
        "greenest": {
            f"{h}h": None
            if w is None
            else {
                "start": w.start,
                "end": w.end,
                "mean_g_per_kwh": w.mean_intensity,
                "gap_share": w.fallback_share,
            }
            for h, w in best.items()
        },
    }
