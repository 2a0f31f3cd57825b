"""`gridwait estimate`: tokens, energy, duration and band of a job before it runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridwait.cli.context import AppContext, JsonFlag, app_context, emit_json, err, out
from gridwait.units import format_duration, format_energy

if TYPE_CHECKING:
    from gridwait.estimators.energy import Estimate
    from gridwait.spec import JobSpec

PROGRESS_FROM = 50_000  # examples; below this the count takes well under a second


def register(app: typer.Typer) -> None:
    app.command()(estimate)


def run_estimate(
    app: AppContext, spec: JobSpec, model: str, dataset: str, hardware: str | None = None
) -> tuple[Estimate, str | None]:
    """Estimate, with a progress bar on stderr once a dataset is large enough to need one."""
    from rich.progress import Progress, TaskID

    from gridwait.scheduler.estimates import EstimateInput, estimate_job

    request = EstimateInput.from_spec(spec, model, dataset)
    bar: list[tuple[Progress, TaskID]] = []

    def report(done: int, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        if not bar:
            progress = Progress(console=err, transient=True)
            progress.start()
            bar.append((progress, progress.add_task("counting tokens", total=total)))
        bar[0][0].update(bar[0][1], completed=done)

    try:
        return estimate_job(request, app.settings, app.store(), app.clock.now(), hardware, report)
    finally:
        if bar:
            bar[0][0].stop()


def estimate(
    ctx: typer.Context,
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Job spec (TOML).")],
    hardware: Annotated[
        str | None,
        typer.Option(help="Hardware from the table (H100-SXM, A100-SXM, L4, T4, cpu-16, ...)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Estimate a job's tokens (real and padded), energy, duration and uncertainty."""
    from gridwait.scheduler.estimates import estimate_json
    from gridwait.spec import check_model, load_spec_file, parse_spec, resolve

    app = app_context(ctx)
    spec = parse_spec(load_spec_file(spec_file))
    base = spec_file.resolve().parent
    submission = resolve(spec, app.clock.now(), base)
    model = check_model(spec, base)
    dataset = str(submission.dataset_path) if submission.dataset_path else f"hub:{spec.dataset.hub}"
    est, note = run_estimate(app, spec, model, dataset, hardware)
    if as_json:
        emit_json(estimate_json(est, note))
        return
    ratio = est.tokens_padded / est.tokens_real if est.tokens_real else 1.0
    lines = [
        f"{spec.name}: {spec.epochs} epoch(s), {est.steps:,} steps"
        f" on {est.hardware} ({est.precision})",
        f"  tokens   {est.tokens_real:,} real, {est.tokens_padded:,} padded"
        f" ({ratio:.2f}x, {spec.padding})",
        f"  duration {format_duration(est.seconds)}"
        f"  ({format_duration(est.seconds_low)} to {format_duration(est.seconds_high)})",
        f"  energy   {format_energy(est.energy_j)}"
        f"  ({format_energy(est.low_j)} to {format_energy(est.high_j)})"
        f"  GPU {format_energy(est.gpu_j)}, CPU {format_energy(est.cpu_j)},"
        f" RAM {format_energy(est.ram_j)}, PUE {est.pue:g}",
        f"  power    {est.power_w:.0f} W mean",
        f"  method   {est.method}",
    ]
    if note:
        lines.append(f"  note     {note}")
    for line in lines:
        out.print(line, markup=False)
