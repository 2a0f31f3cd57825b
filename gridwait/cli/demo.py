"""`gridwait demo`: the main job on a fresh machine, offline, in about two minutes.

A temporary database; the built-in typical day of California (whose solar dip makes the
greener hours plain to see); four jobs of different sizes and deadlines, one of them
interruptible, submitted at midnight in California; a simulated clock on which ten
minutes pass every second (a fine-tune of a dozen real seconds stands for two hours);
the real planner, dispatch, and REAL fine-tunes of the pretrained MiniLM on the SYNTHETIC
review dataset gridwait ships; measurement, accounting; then the history and the report.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from gridwait.cli.context import AppContext, app_context, note, out
from gridwait.errors import ConfigError

ZONE = "US-CAL-CISO"
FACTOR = 600.0
START_UTC_HOUR = 8  # midnight in California: the night is dirty, the solar day clean
JOBS = (
    # name, owner, project, examples, deadline, interruptible
    ("reviews-quick", "alice", "reviews", 96, "14h", False),
    ("reviews-base", "bob", "reviews", 192, "16h", False),
    ("products-small", "alice", "products", 64, "18h", False),
    ("products-resumable", "carol", "products", 160, "20h", True),
)


def register(app: typer.Typer) -> None:
    app.command()(demo)


def demo(
    ctx: typer.Context,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the demo's database and runs in this new directory.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many real seconds.")] = 300.0,
) -> None:
    """Run the main job end to end on this machine: no network, no GPU, no API key."""
    import tempfile

    if keep is not None and keep.exists() and any(keep.iterdir()):
        raise ConfigError(f"--keep: {keep} is not empty; give a new directory")
    began = time.monotonic()
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="gridwait-demo-") as tmp:
            _demo(ctx, Path(tmp), timeout)
    else:
        keep.mkdir(parents=True, exist_ok=True)
        _demo(ctx, keep, timeout)
        where = f"GRIDWAIT_DB={keep / 'gridwait.db'} GRIDWAIT_CONFIG={keep / 'gridwait.toml'}"
        note(f"kept: {where}")
        note(
            f"its dashboard: {where} gridwait run, then open http://127.0.0.1:8787/ and sign in"
            " with a token from `gridwait user add NAME --admin` and `gridwait user token NAME`"
            " (with the same two variables)"
        )
    note(f"demo done in {time.monotonic() - began:.0f} s")


def _demo(ctx: typer.Context, where: Path, timeout: float) -> None:
    from gridwait.app.planning import plan
    from gridwait.cli.jobs import submit_spec
    from gridwait.cli.plan import print_plan
    from gridwait.cli.review import history, report
    from gridwait.cli.run import log_to_stderr, serve
    from gridwait.clock import parse_clock
    from gridwait.units import format_duration, format_kwh

    settings_file = where / "gridwait.toml"
    settings_file.write_text(
        f'[grid]\nprovider = "profile"\nzone = "{ZONE}"\n'
        "[scheduler]\ngpus = 0\ncpu_slots = 1\npoll_minutes = 30\n[energy]\nsample_seconds = 2\n"
    )
    # the workers the service starts read the same settings and database
    os.environ["GRIDWAIT_CONFIG"] = str(settings_file)
    os.environ["GRIDWAIT_DB"] = str(where / "gridwait.db")
    for remote in ("GRIDWAIT_URL", "GRIDWAIT_TOKEN"):  # the demo is this host's sandbox
        os.environ.pop(remote, None)
    app = app_context(ctx)
    app.close()
    app.config, app.db, app._settings = settings_file, where / "gridwait.db", None
    now = datetime.now(UTC)
    start = now.replace(hour=START_UTC_HOUR, minute=0, second=0, microsecond=0)
    start -= timedelta(days=1) if start > now else timedelta(0)
    app.clock = parse_clock(f"sim:{FACTOR:g}@{start.isoformat()}")
    dataset = Path(str(resources.files("gridwait") / "data" / "demo_reviews.csv"))
    out.print(f"[bold]gridwait demo[/bold] in {where}:")
    out.print(f"{len(JOBS)} fine-tunes of MiniLM submitted at {start:%H:%M} UTC,")
    out.print(f"a clock {FACTOR:g}x faster,", end=" ")
    out.print(
        f"the built-in typical day of {ZONE} (no network), SYNTHETIC reviews from {dataset.name}\n"
    )
    for name, owner, project, examples, deadline, resumable in JOBS:
        spec = where / f"{name}.toml"
        spec.write_text(
            f'name = "{name}"\nmodel = "builtin:minilm"\nowner = "{owner}"\nproject = "{project}"\n'
            f'deadline = "{deadline}"\ninterruptible = {str(resumable).lower()}\nbatch_size = 16\n'
            f'max_length = 48\n[dataset]\npath = "{dataset}"\nlimit = {examples}\n'
        )
        done = submit_spec(app, spec)
        job, est = done.job, done.estimate
        out.print(
            f"submitted job {job.id} {name} ({owner}/{project}): {examples} examples,"
            f" deadline {deadline}, estimate {format_kwh(est.energy_kwh)}"
            f" over {format_duration(est.seconds)}"
            f"{', interruptible' if resumable else ''}",
            markup=False,
        )
    out.print(
        "\n[bold]the plan[/bold] (greenest windows before each deadline, one CPU job at a time):"
    )
    print_plan(plan(app.deps, app.actor))
    out.print(
        "\n[bold]running[/bold] (simulated time on the left; each worker log is under runs/):"
    )
    log_to_stderr(app.clock)
    if not serve(app, until_idle=True, timeout=timeout):
        raise ConfigError(f"the demo did not finish within {timeout:g} s")
    out.print(
        "\n[bold]history[/bold] (one row per run; energy is estimated on this CPU, see README):"
    )
    history(ctx, limit=None, page=1, as_json=False)  # by name: the options change
    out.print("\n[bold]report[/bold] by project:")
    report(ctx, by="project", as_json=False)
    _summary(app)


def _summary(app: AppContext) -> None:
    from gridwait.app.history import RunFilter, history
    from gridwait.units import format_kwh, format_litres, format_mass

    runs = history(app.deps, app.actor, RunFilter())
    emitted = sum(r.emissions_g or 0.0 for r in runs)
    counter = sum(r.counterfactual_g or 0.0 for r in runs)
    energy = sum(r.energy_kwh or 0.0 for r in runs)
    embodied = sum(r.embodied_g or 0.0 for r in runs)
    water = sum(r.water_l or 0.0 for r in runs)
    saved = 100 * (counter - emitted) / counter if counter else 0.0
    total = emitted + embodied
    out.print(
        f"\n[bold]{len(runs)} runs, {format_kwh(energy)}: {format_mass(emitted)} CO2e emitted,"
        f" against {format_mass(counter)} had every job started at submission:"
        f" {saved:.0f}% avoided.[/bold]"
    )
    share = 100 * embodied / total if total else 0.0
    out.print(
        f"whole footprint: operational {format_mass(emitted)} (estimated energy x the grid's"
        f" intensity), embodied {format_mass(embodied)} (amortised: this machine's"
        f" manufacturing over the hours held, {share:.0f}% of the total"
        f" {format_mass(total)}), water {format_litres(water)}"
        f" ({runs[0].water_method if runs else 'no runs'})",
        markup=False,
    )
