"""Replaying real intensity traces from CSV (or a zip holding one), with forecast modes.

Reads every format in shared/data/traces: DACF (`UTC time`, `carbon_intensity`,
`carbon_from_src_forecasts`), Electricity Maps exports (`Datetime (UTC)`, LCA column),
Let's Wait Awhile (`Time`, `Carbon Intensity`), NESO archives (`from`,
`intensity.actual`/`intensity.forecast`) and the WattTime/vessim zip (`time`,
`Caiso_North`). Times without an offset are read as UTC, as those files document.

Forecast modes: `perfect` (the actuals), `column:NAME` (a forecast column in the file),
`noise:E` (actuals + one seeded Gaussian draw for the whole trace, sigma = E x mean, as
in Wiesner et al. 2021), `persistence` (the same hour of the last day already known),
and `corrected:` before a column or noise mode: that forecast corrected from its own errors
up to the issue time (grid/corrector.py), with a band. `oracle:H:` before a column or noise
mode is a yardstick, not a forecast: the actuals for the first H hours after each issue
time, then that forecast. It reads the future on purpose, to measure the most any
corrector that saw H hours ahead perfectly could capture (benchmarks/forecast_ceiling.py).

A forecast column is day-ahead, issued honestly: day D's values are known from 12:00 UTC
of day D - 1 (when ENTSO-E's day-ahead results come out), so a forecast issued at t
reaches 12 to 36 hours ahead; the planner's fallback covers the rest.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np

from gridwait.errors import ProviderNoData, TraceError
from gridwait.grid.base import IntensityProvider
from gridwait.grid.corrector import METHODS, CorrectorSettings, RollingCorrector
from gridwait.grid.series import FloatArray, IntensitySeries, Signal

TIME_COLUMNS = (
    "UTC time",
    "Datetime (UTC)",
    "Time",
    "time",
    "from",
    "datetime",
    "timestamp",
    "point_time",
)
VALUE_COLUMNS = (
    "carbon_intensity",
    "Carbon Intensity gCO₂eq/kWh (LCA)",
    "Carbon Intensity",
    "intensity.actual",
    "Caiso_North",
    "carbonIntensity",
    "value",
    "intensity.forecast",
)
FORECAST_COLUMNS = ("carbon_from_src_forecasts", "intensity.forecast")
MARGINAL_HINTS = ("caiso_north", "moer")
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
DAY_AHEAD_PUBLISHED = timedelta(hours=12)
"""Day D's values of a forecast column are known from D - 1 day + 12 h (UTC)."""
CORRECTED = "corrected:"
RAW_YET = "raw forecast: too few of its errors known yet to correct it"
ORACLE = "oracle:"


@dataclass(frozen=True, eq=False)
class Trace:
    """A regular series of actuals plus any other numeric columns of the file."""

    name: str
    start: datetime
    resolution: timedelta
    actual: FloatArray
    columns: dict[str, FloatArray] = field(default_factory=dict)
    value_column: str = ""
    signal: Signal = "average"

    @property
    def end(self) -> datetime:
        return self.start + self.resolution * len(self.actual)

    def index(self, when: datetime) -> float:
        return (when - self.start).total_seconds() / self.resolution.total_seconds()


def load_trace(
    path: Path, time_column: str | None = None, value_column: str | None = None
) -> Trace:
    """Read a trace; TraceError (one line) when the file or its columns are unusable."""
    header, rows = _read_rows(path)
    tcol = time_column or next((c for c in TIME_COLUMNS if c in header), None)
    if tcol is None or tcol not in header:
        raise TraceError(
            f"{path.name}: no time column (found {', '.join(header)});"
            " name it with --time-column or [grid] time_column"
        )
    parsed = {c: _floats(rows, header.index(c)) for c in header if c != tcol and c}
    numeric = {c: v for c, v in parsed.items() if v is not None}
    if value_column is not None and value_column not in numeric:
        raise TraceError(f"{path.name}: no numeric column {value_column!r}")
    filled = [c for c in numeric if not np.isnan(numeric[c]).all()]
    vcol = value_column or next((c for c in VALUE_COLUMNS if c in filled), None)
    if vcol is None and len(filled) == 1:
        vcol = filled[0]  # the only numeric column there is
    if vcol is None:
        raise TraceError(
            f"{path.name}: which column is the intensity? (found {', '.join(header)});"
            " name it with --value-column or [grid] value_column"
        )
    times = [_time(row[header.index(tcol)], path.name) for row in rows]
    start, resolution, slots, holds = _grid(times, path.name)
    columns = {name: _spread(values, slots, holds) for name, values in numeric.items()}
    marginal = any(h in (vcol + path.name).lower() for h in MARGINAL_HINTS)
    return Trace(
        name=path.name,
        start=start,
        resolution=resolution,
        actual=columns[vcol],
        columns=columns,
        value_column=vcol,
        signal="marginal" if marginal else "average",
    )


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".csv")]
                chosen = next((n for n in names if "actual" in n), names[0] if names else None)
                if chosen is None:
                    raise TraceError(f"{path.name}: the zip holds no CSV")
                text = archive.read(chosen).decode("utf-8-sig")
        else:
            text = path.read_text(encoding="utf-8-sig")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise TraceError(f"{path.name}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    rows = [r for r in reader if r and any(cell.strip() for cell in r)]
    if not header or not rows:
        raise TraceError(f"{path.name}: empty trace")
    width = len(header)
    if any(len(r) != width for r in rows):
        raise TraceError(f"{path.name}: rows with a different number of columns than the header")
    return [h.strip() for h in header], rows


def _floats(rows: list[list[str]], index: int) -> FloatArray | None:
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        cell = row[index].strip()
        if cell == "":
            out[i] = np.nan
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            return None
    return out


def _time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TraceError(f"{name}: {text!r} is not an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _grid(times: list[datetime], name: str) -> tuple[datetime, timedelta, np.ndarray, np.ndarray]:
    """Grid start, resolution (the smallest step), each point's slot and how many slots
    its value covers. A file may change resolution (gb_ci.csv goes from 30 to 15 minutes
    in October 2020): a value covers its period up to the next timestamp. A step longer
    than twice the usual one (at least an hour) is missing data, not a long period."""
    steps = [b - a for a, b in pairwise(times)]
    if any(step <= timedelta(0) for step in steps):
        bad = next(b for a, b in pairwise(times) if b <= a)
        raise TraceError(f"{name}: timestamps duplicated or out of order at {bad.isoformat()}")
    resolution = min(steps) if steps else timedelta(hours=1)
    usual = Counter(steps).most_common(1)[0][0] if steps else resolution
    offsets = np.array([(t - times[0]) / resolution for t in times])
    slots = np.rint(offsets).astype(np.int64)
    if np.abs(offsets - slots).max() > 1e-6:
        raise TraceError(f"{name}: timestamps are not on a {resolution} grid")
    longest = max(2 * usual, timedelta(hours=1)) / resolution
    gaps = np.diff(slots, append=slots[-1] + round(usual / resolution))
    holds = np.where(gaps <= longest, gaps, round(usual / resolution))
    return times[0], resolution, slots, holds


def _spread(values: FloatArray, slots: np.ndarray, holds: np.ndarray) -> FloatArray:
    grid = np.full(int(slots[-1] + holds[-1]), np.nan)
    index = np.repeat(slots, holds) + _ramp(holds)
    grid[index] = np.repeat(values, holds)
    return grid


def _ramp(holds: np.ndarray) -> np.ndarray:
    """0..h-1 for every hold h, concatenated."""
    total = int(holds.sum())
    starts = np.repeat(np.cumsum(holds) - holds, holds)
    ramp: np.ndarray = np.arange(total) - starts
    return ramp


def forecast_values(trace: Trace, mode: str, seed: int) -> FloatArray | None:
    """The forecast array for modes that do not depend on the issue time (None for
    persistence; a corrected mode's uncorrected array). TraceError for an unknown mode or
    column."""
    if mode.startswith(ORACLE):
        _, base = _oracle(mode)
        return forecast_values(trace, base, seed)
    if mode.startswith(CORRECTED):
        base = mode.removeprefix(CORRECTED)
        if not (base.startswith(("column", "noise:"))):
            raise TraceError(
                f"forecast mode {mode!r}: only a forecast column or noise can be corrected"
                " (corrected:column:NAME, corrected:noise:E)"
            )
        return forecast_values(trace, base, seed)
    if mode == "perfect":
        return trace.actual
    if mode.startswith("column:") or mode == "column":
        name = mode.partition(":")[2] or next(
            (c for c in FORECAST_COLUMNS if c in trace.columns), ""
        )
        if name not in trace.columns:
            raise TraceError(
                f"{trace.name}: no forecast column {name!r} (columns: {', '.join(trace.columns)})"
            )
        return trace.columns[name]
    if mode.startswith("noise:"):
        error = _noise(mode)
        rng = np.random.default_rng(seed)
        sigma = error * float(np.nanmean(trace.actual))
        noisy: FloatArray = np.clip(
            trace.actual + rng.normal(0.0, sigma, len(trace.actual)), 0.0, None
        )
        return noisy
    if mode == "persistence":
        return None
    raise TraceError(
        f"unknown forecast mode {mode!r}: perfect, column:NAME, noise:E, persistence,"
        " corrected:column:NAME, corrected:noise:E or oracle:H:column:NAME"
    )


def _oracle(mode: str) -> tuple[float, str]:
    """(H, the base mode) of an `oracle:H:BASE` mode."""
    hours, _, base = mode.removeprefix(ORACLE).partition(":")
    try:
        exact = float(hours)
    except ValueError:
        exact = math.nan
    if not 0 <= exact < math.inf:
        raise TraceError(
            f"forecast mode {mode!r}: expected oracle:H:column:NAME or oracle:H:noise:E"
            " with H the hours of actuals, a number >= 0"
        )
    if not base.startswith(("column", "noise:")):
        raise TraceError(
            f"forecast mode {mode!r}: only a forecast column or noise can follow oracle:H:"
        )
    return exact, base


def _noise(mode: str) -> float:
    """E of a `noise:E` mode."""
    try:
        error = float(mode.partition(":")[2])
    except ValueError:
        raise TraceError(f"forecast mode {mode!r}: expected noise:E with E a number") from None
    if not 0 <= error < math.inf:
        raise TraceError(f"forecast mode {mode!r}: the error must be a finite number >= 0")
    return error


class TraceProvider(IntensityProvider):
    """A trace as a provider. `shift` moves the whole trace in time (whole weeks keep
    weekdays and hours), so that old data can stand for the present."""

    name = "trace"

    def __init__(
        self,
        trace: Trace,
        mode: str = "perfect",
        seed: int = 0,
        horizon: timedelta = timedelta(hours=72),
        zone: str = "trace",
        shift: timedelta = timedelta(0),
        corrector: CorrectorSettings | None = None,
    ) -> None:
        self.trace = trace
        self.mode = mode
        self.horizon = horizon
        self.zone = zone
        self.shift = shift
        self.signal = trace.signal
        hours, base = _oracle(mode) if mode.startswith(ORACLE) else (0.0, mode)
        self.exact = round(timedelta(hours=hours) / trace.resolution)
        """Periods after each issue time given as the actuals (`oracle:H:`)."""
        self._forecast = forecast_values(trace, base, seed)
        self.day_ahead = base.removeprefix(CORRECTED).startswith("column")
        self._corrector = (
            RollingCorrector(
                trace.actual,
                self._forecast,
                # the median: the planner applies the risk quantile (planner/signal.py)
                replace(corrector or CorrectorSettings(), risk_quantile=0.5),
                refit=max(1, round(DAY / trace.resolution)),  # once a day, as fits cost
                day=max(1, round(DAY / trace.resolution)),
            )
            if mode.startswith(CORRECTED) and self._forecast is not None
            else None
        )
        # what the mode itself says of its error: noise:E states it, a perfect one has none
        self.error = (
            0.0 if mode == "perfect" else _noise(mode) if mode.startswith("noise:") else None
        )

    @staticmethod
    def aligned_shift(trace: Trace, anchor: datetime) -> timedelta:
        """Whole weeks that move the trace's first week onto `anchor`'s week."""
        return WEEK * math.floor((anchor - trace.start) / WEEK)

    def actual(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        return self._series(self.trace.actual, "actual", start, end, None)

    def forecast(self, zone: str, start: datetime, end: datetime) -> IntensitySeries:
        end = min(end, start + self.horizon)
        if self.day_ahead:
            end = min(end, self.issued_until(start))
        values = self._forecast if self._forecast is not None else self._persistence(start, end)
        note = f"trace {self.trace.name}, forecast {self.mode}"
        series = self._series(values, "forecast", start, end, start, note)
        if self._corrector is not None:
            return self._corrected(series, start)
        if self.exact:
            return self._exact_ahead(series)
        return replace(series, error=self.error)

    def revision(self, issued: datetime) -> tuple[int, datetime | None] | None:
        """What a forecast issued at `issued` depends on besides the trace: equal revisions,
        equal numbers. None where every issue time differs (persistence)."""
        if self._forecast is None:
            return None
        depends = self._corrector is not None or self.exact > 0
        known = math.floor(self.trace.index(issued - self.shift)) if depends else 0
        return known, self.issued_until(issued) if self.day_ahead else None

    def issued_until(self, issued: datetime) -> datetime:
        """How far a day-ahead column issued at `issued` reaches."""
        local = issued - self.shift + DAY_AHEAD_PUBLISHED
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + DAY + self.shift

    def _corrected(self, series: IntensitySeries, issued: datetime) -> IntensitySeries:
        """`series` corrected from the errors of the periods that ended by `issued`."""
        assert self._corrector is not None
        known = max(0, math.floor(self.trace.index(issued - self.shift)))
        lo = round(self.trace.index(series.start - self.shift))
        fixed = self._corrector.at(known, lo + len(series))
        if fixed.raw:  # said as the live path says it (grid/live_correction.py)
            return replace(series, correction=RAW_YET)
        skip = lo - known  # the series starts at the period holding `issued`: lo == known
        settings = self._corrector.settings
        return replace(
            series,
            values=np.clip(fixed.quantile[skip:], 0.0, None),
            lower=np.clip(fixed.lower[skip:], 0.0, None),
            upper=np.clip(fixed.upper[skip:], 0.0, None),
            band=settings.band,
            correction="corrected from its own errors",
            note=f"{series.note}; {METHODS[settings.method]}; band {settings.band:.0%}",
        )

    def _exact_ahead(self, series: IntensitySeries) -> IntensitySeries:
        """`series` with its first `exact` periods replaced by the actuals (where known)."""
        lo = round(self.trace.index(series.start - self.shift))
        values = series.values.copy()
        n = min(self.exact, len(values))
        ahead = self.trace.actual[lo : lo + n]
        values[: len(ahead)] = np.where(np.isnan(ahead), values[: len(ahead)], ahead)
        return replace(
            series, values=values, note=f"{series.note}; the actuals for {n} periods (oracle)"
        )

    def _persistence(self, issued: datetime, end: datetime) -> FloatArray:
        """Value at T = the actual at T minus as many whole days as needed to be known at
        the issue time."""
        out = np.full(len(self.trace.actual), np.nan)
        first = max(0, math.floor(self.trace.index(issued - self.shift)))
        last = min(len(out), math.ceil(self.trace.index(end - self.shift)))
        per_day = round(DAY / self.trace.resolution)
        known_until = self.trace.index(issued - self.shift)
        for i in range(first, last):
            days_back = max(1, math.ceil((i + 1 - known_until) / per_day))
            source = i - days_back * per_day
            if source >= 0:
                out[i] = self.trace.actual[source]
        return out

    def _series(
        self,
        values: FloatArray,
        kind: str,
        start: datetime,
        end: datetime,
        issued: datetime | None,
        note: str | None = None,
    ) -> IntensitySeries:
        trace = self.trace
        lo = max(0, math.floor(trace.index(start - self.shift)))
        hi = min(len(values), math.ceil(trace.index(end - self.shift)))
        if hi <= lo:
            raise ProviderNoData(
                "trace",
                f"{trace.name} covers {(trace.start + self.shift).isoformat()} to"
                f" {(trace.end + self.shift).isoformat()}, not {start.isoformat()}",
            )
        return IntensitySeries(
            zone=self.zone,
            source="trace",
            signal=self.signal,
            kind="forecast" if kind == "forecast" else "actual",
            start=trace.start + self.shift + trace.resolution * lo,
            resolution=trace.resolution,
            values=values[lo:hi],
            issued_at=issued,
            note=note,
        )
