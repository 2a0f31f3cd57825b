"""The GPU check's arithmetic and its Markdown: errors, MAPE, the sampler's cost against
the steps it ran beside, and the short table. Pure functions of plain values."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

WARMUP_STEPS = 3
"""First steps left out of step timing (allocator, cuBLAS heuristics, lazy init)."""


def pct(predicted: float | None, actual: float | None) -> float | None:
    """Signed relative error of `predicted`, %; None without both or with actual 0."""
    if predicted is None or not actual:
        return None
    return round(100 * (predicted - actual) / actual, 1)


def mape(errors: Sequence[float | None]) -> float | None:
    known = [abs(e) for e in errors if e is not None]
    return round(statistics.mean(known), 1) if known else None


def fit_steps(steps: int, need_s: float, left_s: float, min_steps: int) -> tuple[int, str | None]:
    """The time guard: all `steps` when `need_s` fits in `left_s`, else the share that
    fits, or 0 when that is under `min_steps`; with a note saying what was done."""
    if need_s <= left_s:
        return steps, None
    fitted = int(steps * max(left_s, 0.0) / need_s) if need_s > 0 else 0
    how = f"about {need_s:.0f} s needed, {left_s:.0f} s left"
    if fitted < min_steps:
        return 0, f"skipped: {how}"
    return fitted, f"cut from {steps} to {fitted} steps: {how}"


def _overlaps(step: tuple[float, float], intervals: Sequence[tuple[float, float]]) -> bool:
    return any(b < step[1] and e > step[0] for b, e in intervals)


def sampler_stats(
    intervals: Sequence[tuple[float, float]],
    steps: Sequence[tuple[float, float]],
    duration_s: float,
    period_s: float,
    default_period_s: float,
) -> dict[str, Any]:
    """What sampling cost: per sample (meter read + heartbeat), as a share of the run's
    wall time and of the default period, and against the optimizer steps: the median step,
    and how much longer the steps that overlapped a sample took than those that did not
    (signed; noise of the order of the steps' own jitter)."""
    costs = [e - b for b, e in intervals]
    if not costs:
        return {"samples": 0}
    median = statistics.median(costs)
    out: dict[str, Any] = {
        "samples": len(costs),
        "period_s": period_s,
        "cost_ms_median": round(median * 1e3, 2),
        "cost_ms_max": round(max(costs) * 1e3, 2),
        "share_of_wall_pct": round(100 * sum(costs) / duration_s, 3) if duration_s else None,
        "share_at_default_period_pct": round(100 * median / default_period_s, 3),
    }
    timed = list(steps[WARMUP_STEPS:])
    if not timed:
        return out
    durations = [e - b for b, e in timed]
    step = statistics.median(durations)
    out["step_ms_median"] = round(step * 1e3, 2)
    out["cost_vs_step_pct"] = round(100 * median / step, 2) if step else None
    hit = [d for s, d in zip(timed, durations, strict=True) if _overlaps(s, intervals)]
    clean = [d for s, d in zip(timed, durations, strict=True) if not _overlaps(s, intervals)]
    out["steps_with_sample"] = len(hit)
    if hit and clean:
        extra = statistics.mean(hit) - statistics.mean(clean)
        out["step_ms_with_sample"] = round(statistics.mean(hit) * 1e3, 2)
        out["step_ms_without"] = round(statistics.mean(clean) * 1e3, 2)
        out["slowdown_share_of_step_time_pct"] = round(100 * extra * len(hit) / sum(durations), 3)
    return out


def _fmt(value: Any, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}{suffix}"
    return str(value)


def _err(value: float | None) -> str:
    return "–" if value is None else f"{value:+.0f} %"


def _run_line(r: dict[str, Any]) -> str:
    cold = r.get("cold") or {}
    sampler = r.get("sampler") or {}
    if r.get("state") == "skipped":
        return f"| {r['name']} | {r.get('guard')} |"
    if r.get("state") != "succeeded":
        return f"| {r['name']} | {r.get('state')}: {r.get('error')} |"
    return (
        f"| {r['name']} | {_fmt(r.get('model_params', 0) / 1e6, 1)} M | {r['steps']}"
        f" | {_fmt(r.get('tokens_padded'))} | {_fmt(r.get('duration_s'), 1)}"
        f" | {_fmt(cold.get('seconds'), 1)} ({_err(r.get('cold_error_s_pct'))})"
        f" | {_fmt(r.get('energy_it_j'))} | {_fmt(cold.get('it_j'))}"
        f" ({_err(r.get('cold_error_j_pct'))})"
        f" | {_fmt(r.get('energy_gpu_j'))} | {_fmt(r.get('gpu_power_integration_j'))}"
        f" ({_err(r.get('gpu_methods_diff_pct'))}) | {_fmt(r.get('gpu_train_w'))}"
        f" | {_fmt(r.get('mfu'), 3)} | {_fmt(sampler.get('cost_ms_median'), 2)}"
        f" | {_fmt(sampler.get('share_of_wall_pct'), 3, ' %')}"
        f" | {_fmt(sampler.get('slowdown_share_of_step_time_pct'), 2, ' %')} |"
    )


def markdown(report: dict[str, Any]) -> str:
    """The short table: one row per run, then the calibration, device and idle lines."""
    gpu = report.get("gpu") or {}
    lines = [
        f"# gridwait GPU check ({report.get('mode')}): {report.get('status')}",
        "",
        f"Hardware row: {report.get('hardware')}; {report.get('elapsed_s')} s of"
        f" {report.get('budget_s')} s budget. Energy is IT energy (no PUE), J.",
        "",
        "| run | params | steps | tokens | time s | cold est. s | IT J | cold est. J"
        " | GPU J counter | GPU J power-int. (vs counter) | GPU W (loop) | MFU"
        " | sample ms | sampling share | step slowdown |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_run_line(r) for r in report.get("runs", [])),
        "",
    ]
    cal = report.get("calibration") or {}
    if cal.get("leave_one_out"):
        lines.append(
            f"Calibrated on two runs, predicting the third ({', '.join(cal.get('pool', []))}):"
            f" duration MAPE {_fmt(cal.get('duration_mape_pct'), 1, ' %')},"
            f" energy MAPE {_fmt(cal.get('energy_mape_pct'), 1, ' %')}."
        )
    for same in cal.get("same_model", []):
        lines.append(
            f"Same model, {same['predicted']} from {same['from'][0]}: duration"
            f" {_err(same.get('error_s_pct'))}, energy {_err(same.get('error_j_pct'))}."
        )
    if gpu.get("name"):
        idle_b, idle_a = gpu.get("idle_before") or {}, gpu.get("idle_after") or {}
        lines.append(
            f"GPU {gpu['name']}, driver {gpu.get('driver')}, power limit"
            f" {gpu.get('power_limit_w')} W; idle {_fmt(idle_b.get('counter_w'), 1)} W before,"
            f" {_fmt(idle_a.get('counter_w'), 1)} W after (counter)."
        )
    elif gpu.get("unavailable"):
        lines.append(f"GPU: {gpu['unavailable']}.")
    if report.get("incomplete"):
        lines.append(f"INCOMPLETE: {report['incomplete']}.")
    return "\n".join(lines) + "\n"
