"""Learning from measured runs: seconds and joules per padded token.

Per (model, hardware, precision): one or two runs give a ratio above the prior's fixed
overhead (start-up, model load: too few runs to fit it, and without it a tiny model would
be predicted to take no time at all); three or more a least squares fit with an
intercept for the fixed overhead.
Without runs of this model, runs of other models on the same hardware are scaled by
training FLOPs (parameter count); without those, the first-principles prior answers.
The band comes from the relative residuals of the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_FIT_RUNS = 3
RATIO_BAND = 0.30
SCALED_BAND = 0.40
MIN_BAND = 0.05


@dataclass(frozen=True)
class Observation:
    """One measured run."""

    model: str
    hardware: str
    precision: str
    tokens_padded: int
    flops: float
    """Training FLOPs of the run (FLOPs per token x padded tokens)."""
    seconds: float
    """Wall time of the whole run, start-up included (real seconds)."""
    joules: float
    """IT energy of the run, all components."""
    gpu_share: float = 0.0
    """Shares of the IT energy per component, to split a prediction the same way."""
    cpu_share: float = 1.0


@dataclass(frozen=True)
class Line:
    """y = intercept + slope x x, with a relative error band."""

    intercept: float
    slope: float
    band: float

    def __call__(self, x: float) -> float:
        return self.intercept + self.slope * x


@dataclass(frozen=True)
class Calibration:
    seconds: Line
    joules: Line
    level: str
    """same-model, same-hardware or none"""
    runs: int
    x: str
    """what the lines take: tokens (padded tokens) or flops"""
    gpu_share: float
    cpu_share: float

    def describe(self) -> str:
        how = (
            "least-squares fit with intercept"
            if self.seconds.intercept or self.runs >= MIN_FIT_RUNS
            else "ratio"
        )
        if self.level == "same-model":
            return f"calibrated on {self.runs} run(s) of this model on this hardware ({how})"
        return f"scaled by training FLOPs from {self.runs} run(s) of other models on this hardware"


def fit_line(x: Sequence[float], y: Sequence[float], fixed: float = 0.0) -> Line:
    """For fewer than 3 points, the prior's `fixed` overhead (capped below the smallest
    run) plus a ratio for the rest; least squares with a non-negative intercept otherwise."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ratio = float(ys.sum() / xs.sum()) if xs.sum() > 0 else 0.0
    if len(xs) < MIN_FIT_RUNS or np.ptp(xs) == 0:
        base = min(fixed, 0.9 * float(ys.min())) if len(ys) else 0.0
        rest = float((ys - base).sum() / xs.sum()) if xs.sum() > 0 else 0.0
        return Line(max(base, 0.0), rest, RATIO_BAND)
    slope, intercept = np.polyfit(xs, ys, 1)
    if intercept < 0 or slope <= 0:
        slope, intercept = ratio, 0.0
    predicted = intercept + slope * xs
    relative = (ys - predicted) / predicted
    rms = math.sqrt(float(np.mean(relative**2)))
    return Line(float(intercept), float(slope), max(MIN_BAND, 2 * rms))


@dataclass(frozen=True)
class Fixed:
    """The prior's fixed cost of a run before its first step: seconds and IT joules."""

    seconds: float = 0.0
    joules: float = 0.0


def calibrate(
    history: Sequence[Observation],
    model: str,
    hardware: str,
    precision: str,
    fixed: Fixed = Fixed(),
) -> Calibration | None:
    """The most specific calibration the history allows, or None (use the prior)."""
    same_hw = [
        o for o in history if o.hardware == hardware and o.precision == precision and o.seconds > 0
    ]
    same_model = [o for o in same_hw if o.model == model]
    if same_model:
        tokens = [float(o.tokens_padded) for o in same_model]
        return Calibration(
            seconds=fit_line(tokens, [o.seconds for o in same_model], fixed.seconds),
            joules=fit_line(tokens, [o.joules for o in same_model], fixed.joules),
            level="same-model",
            runs=len(same_model),
            x="tokens",
            gpu_share=float(np.mean([o.gpu_share for o in same_model])),
            cpu_share=float(np.mean([o.cpu_share for o in same_model])),
        )
    if same_hw:
        flops = [o.flops for o in same_hw]
        seconds, joules = (
            fit_line(flops, [o.seconds for o in same_hw], fixed.seconds),
            fit_line(flops, [o.joules for o in same_hw], fixed.joules),
        )
        widen = max(SCALED_BAND, seconds.band)
        return Calibration(
            seconds=Line(seconds.intercept, seconds.slope, widen),
            joules=Line(joules.intercept, joules.slope, max(SCALED_BAND, joules.band)),
            level="same-hardware",
            runs=len(same_hw),
            x="flops",
            gpu_share=float(np.mean([o.gpu_share for o in same_hw])),
            cpu_share=float(np.mean([o.cpu_share for o in same_hw])),
        )
    return None
