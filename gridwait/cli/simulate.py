"""`gridwait simulate`: backtest the planner on a real trace, or generate a workload."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from gridwait.cli.context import err, note, out, time_option


def register(app: typer.Typer) -> None:
    app.command()(simulate)


def simulate(
    out_file: Annotated[
        Path,
        typer.Option("--out", help="Where to write RESULT.json (or JOBS.csv with --generate)."),
    ],
    trace: Annotated[
        Path | None, typer.Option(help="Trace CSV (any format in shared/data/traces).")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target",
            help="NAME=TRACE.csv, twice or more instead of --trace: several zones, where+when"
            " vs when-only (each job at its home target) vs run-now; --gpus is each target's.",
        ),
    ] = None,
    jobs: Annotated[
        Path | None,
        typer.Option(
            help="JOBS.csv: id,submit_time,duration_minutes,deadline,gpus,interruptible,power_w."
        ),
    ] = None,
    time_column: Annotated[
        str | None, typer.Option(help="Trace time column (default: detected).")
    ] = None,
    value_column: Annotated[
        str | None, typer.Option(help="Trace intensity column (default: detected).")
    ] = None,
    forecast: Annotated[
        str,
        typer.Option(
            help="perfect, column:NAME (day-ahead, as published), noise:0.05, persistence,"
            " corrected:column:NAME / corrected:noise:E (corrected from its own errors), or"
            " oracle:H:column:NAME (a yardstick: the actuals for H hours after each issue)."
        ),
    ] = "perfect",
    seed: Annotated[int, typer.Option(help="Seed of the noise forecast (and of --generate).")] = 0,
    gpus: Annotated[
        int | None, typer.Option(min=1, help="GPU capacity (default: unlimited).")
    ] = None,
    poll_minutes: Annotated[float, typer.Option(min=1, help="Re-plan period.")] = 30.0,
    min_segment_minutes: Annotated[
        float, typer.Option(min=0, help="Interruptible jobs: shortest segment.")
    ] = 30.0,
    resume_overhead_minutes: Annotated[
        float, typer.Option(min=0, help="Interruptible jobs: time lost per resume.")
    ] = 2.0,
    horizon_hours: Annotated[
        float, typer.Option(min=1, help="How far ahead each forecast reaches.")
    ] = 96.0,
    step_minutes: Annotated[
        float | None, typer.Option(min=1, help="Start-time granularity (default: the trace's).")
    ] = None,
    interruptible: Annotated[
        str, typer.Option(help="file (as JOBS.csv says), all or none.")
    ] = "file",
    per_job: Annotated[
        bool, typer.Option("--per-job", help="Add one row per job to the result.")
    ] = False,
    every_poll: Annotated[
        bool, typer.Option("--every-poll", help="Re-plan at every poll even when nothing changed.")
    ] = False,
    generate: Annotated[
        str | None, typer.Option(help="Write a workload instead: weekday-ml or nightly.")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="--generate: first day (default: the trace's first full day)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="--generate: day after the last (default: the trace's end).")
    ] = None,
    per_day: Annotated[
        float, typer.Option(min=0, help="--generate weekday-ml: jobs per weekday.")
    ] = 13.0,
    interruptible_share: Annotated[
        float, typer.Option(min=0, max=1, help="--generate: share of interruptible jobs.")
    ] = 0.0,
) -> None:
    """Backtest the planner on a real trace (RESULT.json), or generate a JOBS.csv workload."""
    from gridwait.errors import ConfigError
    from gridwait.grid.trace import load_trace

    first, last = time_option(start, "--start"), time_option(end, "--end")
    if generate is None and (first or last):
        raise ConfigError("--start and --end go with --generate (a backtest runs the jobs' times)")
    loaded = load_trace(trace, time_column, value_column) if trace is not None else None
    if generate is not None:
        _generate(
            generate,
            loaded,
            first,
            last,
            seed,
            per_day,
            interruptible_share,
            out_file,
        )
        return
    if interruptible not in ("file", "all", "none"):
        raise ConfigError(f"--interruptible: expected file, all or none, got {interruptible!r}")
    if target:
        if trace is not None or jobs is None:
            raise ConfigError("--target goes with --jobs and instead of --trace")
        options = _options(
            gpus,
            poll_minutes,
            (min_segment_minutes, resume_overhead_minutes),
            horizon_hours,
            step_minutes,
            every_poll,
        )
        columns = (time_column, value_column)
        _backtest_where(target, (jobs, interruptible), forecast, seed, options, columns, out_file)
        return
    if loaded is None or jobs is None:
        raise ConfigError(
            "simulate needs --trace and --jobs (or --generate KIND to write a workload)"
        )
    _backtest(
        loaded,
        jobs,
        forecast,
        seed,
        gpus,
        poll_minutes,
        min_segment_minutes,
        resume_overhead_minutes,
        horizon_hours,
        step_minutes,
        interruptible,
        per_job,
        every_poll,
        out_file,
    )


def _generate(
    kind: str,
    trace: Any,
    start: datetime | None,
    end: datetime | None,
    seed: int,
    per_day: float,
    share: float,
    out_file: Path,
) -> None:
    from gridwait.errors import ConfigError
    from gridwait.scheduler.workload import generate, write_jobs

    if start is None:
        if trace is None:
            raise ConfigError("--generate needs --start (or a --trace to take its dates from)")
        start = (trace.start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if end is None:
        if trace is None:
            raise ConfigError("--generate needs --end (or a --trace to take its dates from)")
        end = trace.end - timedelta(days=4)
    jobs = generate(kind, start, end, seed, per_day, share)
    write_jobs(jobs, out_file)
    note(f"wrote {len(jobs)} {kind} jobs ({start:%Y-%m-%d} to {end:%Y-%m-%d}) to {out_file}")


def _backtest(
    trace: Any,
    jobs_file: Path,
    mode: str,
    seed: int,
    gpus: int | None,
    poll: float,
    min_segment: float,
    overhead: float,
    horizon: float,
    step: float | None,
    interruptible: str,
    per_job: bool,
    every_poll: bool,
    out_file: Path,
) -> None:
    from dataclasses import replace

    from rich.progress import Progress

    from gridwait.grid.trace import forecast_values
    from gridwait.scheduler.simulate import backtest
    from gridwait.scheduler.workload import load_jobs

    forecast_values(trace, mode, seed)  # an unknown mode or column fails now, in one line
    jobs = load_jobs(jobs_file)
    if interruptible != "file":
        jobs = [replace(j, interruptible=interruptible == "all") for j in jobs]
    options = _options(gpus, poll, (min_segment, overhead), horizon, step, every_poll)
    first, last = jobs[0].submit, max(j.deadline for j in jobs)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("simulating (policy)", total=(last - first).total_seconds())

        def report(now: datetime) -> None:
            progress.update(task, completed=(now - first).total_seconds())

        result = backtest(trace, jobs, mode, seed, options, per_job, report)
    out_file.write_text(json.dumps(result, indent=2, default=lambda v: v.isoformat()) + "\n")
    saving = result["savings_pct"]
    assert isinstance(saving, dict)
    out.print(
        f"{result['jobs']} jobs on {trace.name} ({mode}):"
        f" saving {saving['policy']:.1f} % vs run-now"
        f" (oracle {saving['oracle']:.1f} %), {result['deadline_misses']} deadline misses,"
        f" {result['runtime_s']:.1f} s -> {out_file}",
        markup=False,
    )


def _targets(given: list[str], time_column: str | None, value_column: str | None) -> list[Any]:
    """`NAME=TRACE.csv` options as simulation targets; ConfigError (one line) otherwise."""
    from gridwait.errors import ConfigError
    from gridwait.grid.trace import load_trace
    from gridwait.scheduler.simulate import SimTarget

    named: dict[str, Path] = {}
    for item in given:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path:
            raise ConfigError(f"--target {item!r}: expected NAME=TRACE.csv, e.g. CISO=ciso.csv")
        if name.strip() in named:
            raise ConfigError(f"--target: {name.strip()!r} is named twice")
        named[name.strip()] = Path(path)
    if len(named) < 2:
        raise ConfigError("--target: name two targets or more (one zone: use --trace)")
    return [
        SimTarget(name, load_trace(path, time_column, value_column)) for name, path in named.items()
    ]


def _options(
    gpus: int | None,
    poll: float,
    segments: tuple[float, float],
    horizon: float,
    step: float | None,
    every_poll: bool,
) -> Any:
    """The backtest's options; `segments`: (shortest segment, resume overhead), minutes."""
    from gridwait.scheduler.simulate import SimOptions

    return SimOptions(
        poll=timedelta(minutes=poll),
        capacity=gpus,
        step=timedelta(minutes=step) if step else None,
        min_segment=timedelta(minutes=segments[0]),
        resume_overhead=timedelta(minutes=segments[1]),
        horizon=timedelta(hours=horizon),
        every_poll=every_poll,
    )


def _backtest_where(
    given: list[str],
    queue: tuple[Path, str],
    mode: str,
    seed: int,
    options: Any,
    columns: tuple[str | None, str | None],
    out_file: Path,
) -> None:
    """`queue`: the JOBS.csv and the --interruptible choice; `options.capacity` is each
    target's."""
    from dataclasses import replace

    from gridwait.grid.trace import forecast_values
    from gridwait.scheduler.spatial import backtest_where
    from gridwait.scheduler.workload import load_jobs

    targets = [replace(t, capacity=options.capacity) for t in _targets(given, *columns)]
    for t in targets:
        forecast_values(t.trace, mode, seed)  # an unknown mode or column fails now
    jobs = load_jobs(queue[0])
    if queue[1] != "file":
        jobs = [replace(j, interruptible=queue[1] == "all") for j in jobs]
    with err.status("simulating run-now, when-only, where+when and the oracle"):
        result = backtest_where(targets, jobs, mode, seed, options)
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    saving = result["savings_pct"]
    assert isinstance(saving, dict)
    out.print(
        f"{result['jobs']} jobs on {', '.join(t.name for t in targets)} ({mode}):"
        f" where+when saves {saving['where_when']:.1f} % vs run-now,"
        f" when-only {saving['when_only']:.1f} %;"
        f" where+when over when-only {result['where_when_over_when_only_pct']:.1f} %"
        f" -> {out_file}",
        markup=False,
    )
