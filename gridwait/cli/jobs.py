"""Researchers' commands: submit, queue, show, cancel. Parsing and rendering only: the
use cases live in gridwait.app.jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gridwait.cli.context import (
    AppContext,
    JobId,
    JsonFlag,
    Limit,
    Page,
    app_context,
    emit_view,
    note,
    out,
    page_of,
)
from gridwait.units import format_duration, format_kwh, format_mass, format_time

if TYPE_CHECKING:
    from gridwait.app.views import JobView, Submitted


def register(app: typer.Typer) -> None:
    app.command()(submit)
    app.command()(queue)
    app.command()(show)
    app.command()(cancel)


def submit(
    ctx: typer.Context,
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Job spec (TOML).")],
    deadline: Annotated[
        str | None,
        typer.Option(
            help="Override the spec's deadline: 36h, now+2days, or an ISO time"
            " (local unless it has an offset or Z)."
        ),
    ] = None,
) -> None:
    """Validate a job spec and queue it; prints the new job id."""
    done = submit_spec(app_context(ctx), spec_file, deadline)
    job, est = done.job, done.estimate
    out.print(str(job.id))
    note(
        f"queued job {job.id} {job.name!r}: deadline {format_time(job.deadline)} UTC,"
        f" estimate {format_kwh(est.energy_kwh)} over {format_duration(est.seconds)}"
        f" ({est.level})"
    )
    if est.note:
        note(f"note: {est.note}")


def submit_spec(app: AppContext, spec_file: Path, deadline: str | None = None) -> Submitted:
    """Read and submit one spec file (its paths relative to the file); a `deadline` typed
    on the command line may be a local time (the file's may not)."""
    from gridwait.cli.estimate import progress_bar, spec_of
    from gridwait.cli.times import typed_time

    spec = spec_of(spec_file)
    now = app.clock.now()
    due = None if deadline is None else typed_time(deadline, "--deadline", now, durations=True)
    with progress_bar() as progress:
        return app.gateway.submit(spec, spec_file.resolve().parent, due, progress)


def queue(
    ctx: typer.Context,
    all_jobs: Annotated[bool, typer.Option("--all", help="Include finished jobs.")] = False,
    owner: Annotated[
        str | None, typer.Option("--user", "-u", help="Only this owner's jobs.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project's jobs.")
    ] = None,
    limit: Limit = None,
    page: Page = 1,
    as_json: JsonFlag = False,
) -> None:
    """List waiting and running jobs (with --all, finished ones too), oldest first."""
    from gridwait.app.jobs import QueueFilter

    app = app_context(ctx)
    rows = app.gateway.queue(QueueFilter(all_jobs, owner, project))
    rows = page_of(rows, limit, page, as_json, "jobs")
    if as_json:
        emit_view(rows)
        return
    if not rows:
        note("the queue is empty")
        return
    table = Table(
        "id", "name", "owner", "project", "state", "gpus", "deadline", "start", "est", "forecast"
    )
    for r in rows:
        table.add_row(
            str(r.id),
            r.name,
            r.owner,
            r.project,
            r.state + (" (late)" if r.late else ""),
            str(r.gpus),
            format_time(r.deadline),
            format_time(r.planned_start),
            format_kwh(r.est_energy_kwh),
            format_mass(r.plan_forecast_g),
        )
    out.print(table)


def show(
    ctx: typer.Context,
    job_id: JobId,
    as_json: JsonFlag = False,
) -> None:
    """Everything about one job: spec, estimate, plan, events and runs."""

    app = app_context(ctx)
    job = app.gateway.show(job_id)
    if as_json:
        emit_view(job)
        return
    for line in _describe(job):
        out.print(line, markup=False)


def _describe(job: JobView) -> list[str]:
    lines = [f"job {job.id} {job.name!r}  [{job.state}]"]
    if job.reason:
        lines.append(f"  reason: {job.reason}")
    lines += [
        f"  owner {job.owner}, project {job.project}, model {job.model}",
        f"  dataset {job.dataset}",
        f"  submitted {format_time(job.submitted_at)}  earliest {format_time(job.earliest_start)}"
        f"  deadline {format_time(job.deadline)} UTC",
    ]
    if job.estimate is not None:
        est = job.estimate
        lines.append(
            f"  estimate {format_kwh(est.energy_kwh)} in {format_duration(est.seconds)}"
            f" ({est.tokens_padded} padded tokens; {est.method})"
        )
    if job.plan is not None:
        plan = job.plan
        late = " LATE" if plan.late else ""
        lines.append(
            f"  plan {format_time(plan.start)} -> {format_time(plan.end)}{late}:"
            f" {format_mass(plan.forecast_g)} forecast vs"
            f" {format_mass(plan.run_now_g)} run now ({plan.source})"
        )
    for e in job.events:
        lines.append(
            f"  {format_time(e.at)}  {e.from_state or '-'} -> {e.to_state}  {e.reason or ''}"
        )
    for r in job.runs:
        lines.append(
            f"  run {r.id} [{r.state}] {format_time(r.started_at)} -> {format_time(r.ended_at)}"
            f"  {format_kwh(r.energy_kwh)}  {format_mass(r.emissions_g)}"
        )
        if r.eval_examples:
            lines.append(
                f"    eval on {r.eval_examples} examples: loss {_number(r.eval_loss)},"
                f" accuracy {_number(r.eval_accuracy)}"
            )
    return lines


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def cancel(ctx: typer.Context, job_id: JobId) -> None:
    """Cancel a job. A running worker is stopped by the service at its next tick."""

    app = app_context(ctx)
    job = app.gateway.cancel(job_id)
    note(f"cancelled job {job.id} {job.name!r}")
