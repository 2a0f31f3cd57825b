"""`gridwait estimate`: tokens, energy, duration and band of a job before it runs; and
what `submit` shares with it: reading a spec file and a progress bar for long counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gridwait.cli.context import AppContext, JsonFlag, app_context, emit_view, err, out
from gridwait.units import format_duration, format_kwh

if TYPE_CHECKING:
    from gridwait.spec import Submission

PROGRESS_FROM = 50_000  # examples; below this the count takes well under a second


def register(app: typer.Typer) -> None:
    app.command()(estimate)


def read_spec(app: AppContext, spec_file: Path, deadline: str | None = None) -> Submission:
    """A spec file parsed and resolved: paths relative to the file, times in UTC. A
    `deadline` typed on the command line may be a local time (the file's may not)."""
    from gridwait.cli.times import typed_time
    from gridwait.spec import load_spec_file, parse_spec, resolve

    spec = parse_spec(load_spec_file(spec_file))
    now = app.clock.now()
    due = None if deadline is None else typed_time(deadline, "--deadline", now, durations=True)
    return resolve(spec, now, spec_file.resolve().parent, due)


@contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a bar on stderr once a dataset is large enough."""
    from rich.progress import Progress, TaskID

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
        yield report
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
    from gridwait.app.estimates import estimate_spec

    app = app_context(ctx)
    sub = read_spec(app, spec_file)
    with progress_bar() as progress:
        est = estimate_spec(app.deps, app.actor, sub, hardware, progress)
    if as_json:
        emit_view(est)
        return
    spec = sub.spec
    lines = [
        f"{spec.name}: {spec.epochs} epoch(s), {est.steps:,} steps"
        f" on {est.hardware} ({est.precision})",
        f"  tokens   {est.tokens_real:,} real, {est.tokens_padded:,} padded"
        f" ({est.padding_ratio or 1.0:.2f}x, {spec.padding})",
        f"  duration {format_duration(est.seconds)}"
        f"  ({format_duration(est.seconds_low)} to {format_duration(est.seconds_high)})",
        f"  energy   {format_kwh(est.energy_kwh)}"
        f"  ({format_kwh(est.energy_low_kwh)} to {format_kwh(est.energy_high_kwh)})"
        f"  GPU {format_kwh(est.gpu_kwh)}, CPU {format_kwh(est.cpu_kwh)},"
        f" RAM {format_kwh(est.ram_kwh)}, PUE {est.pue:g}",
        f"  power    {est.power_w:.0f} W mean",
        f"  method   {est.method}",
    ]
    if est.note:
        lines.append(f"  note     {est.note}")
    for line in lines:
        out.print(line, markup=False)
