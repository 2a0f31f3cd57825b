"""`gridwait forecast`: the coming hours, where the numbers come from, and the greenest
start for jobs of 1, 2, 4 and 8 hours (rendering only: gridwait.app.forecasting)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gridwait.cli.context import JsonFlag, app_context, emit_view, note, out
from gridwait.config import ProviderName

if TYPE_CHECKING:
    from gridwait.app.views import ForecastView

BARS = "▁▂▃▄▅▆▇█"


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
    view = app_context(ctx).gateway.forecast(provider, zone, hours)
    if as_json:
        emit_view(view)
        return
    _print(view)


Row = tuple[datetime, float, float, float, float]
"""time, raw, corrected, band's lower and upper edge (NaN where none)."""


def _rows(view: ForecastView) -> list[Row]:
    """One row per hour: hourly means when the series is finer than an hour."""
    per_hour = max(1, round(3600 / view.resolution_s))
    rows = []
    for i in range(0, len(view.points), per_hour):
        chunk = view.points[i : i + per_hour]
        raw, fixed = _mean([p.value for p in chunk]), _mean([p.corrected for p in chunk])
        low, high = _mean([p.lower for p in chunk]), _mean([p.upper for p in chunk])
        rows.append((chunk[0].start, raw, fixed, low, high))
    return rows


def _mean(values: list[float | None]) -> float:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else math.nan


def _g(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _print(view: ForecastView) -> None:
    source = f"{view.provider} ({view.signal} signal, zone {view.zone})"
    issued = f", issued {view.issued_at:%Y-%m-%d %H:%M} UTC" if view.issued_at else ""
    out.print(f"forecast from {source}{issued}", markup=False)
    if view.fallback:
        note(f"FALLBACK: {view.fallback}")
    if view.note:
        out.print(f"  {view.note}", markup=False)
    if view.correction:
        out.print(f"  {view.correction}", markup=False)
    rows = _rows(view)
    banded = view.band is not None
    # the bars draw what the planner ranks: the corrected forecast where there is one
    series = [r[2] if banded else r[1] for r in rows]
    finite = [v for v in series if not math.isnan(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    edges = f"{(1 - (view.band or 0)) / 2:.0%}-{(1 + (view.band or 0)) / 2:.0%} band"
    columns = ["time (UTC)", "gCO2eq/kWh"] + (["corrected", edges] if banded else [])
    table = Table(*columns, "")
    for row, value in zip(rows, series, strict=True):
        level = 0 if high == low or math.isnan(value) else round((value - low) / (high - low) * 7)
        cells = [f"{row[0]:%a %H:%M}", _g(row[1])]
        if banded:
            cells += [_g(row[2]), f"{_g(row[3])}-{_g(row[4])}"]
        table.add_row(*cells, BARS[level] * (level + 1))
    out.print(table)
    for label, window in view.greenest.items():
        hours = label.removesuffix("h")
        if window is None:
            out.print(f"  {hours} h job: the forecast is too short", markup=False)
            continue
        filled = (
            f" ({window.gap_share:.0%} of it in gaps, at the forecast's mean)"
            if window.gap_share > 0
            else ""
        )
        out.print(
            f"  {hours} h job: start {window.start:%a %H:%M} UTC,"
            f" mean {window.mean_g_per_kwh:.0f} gCO2eq/kWh{filled}",
            markup=False,
        )
