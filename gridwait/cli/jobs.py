"""Researchers' commands: submit, queue, show, cancel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gridwait.cli.context import AppContext, JsonFlag, app_context, emit_json, note, out

if TYPE_CHECKING:
    from gridwait.estimators.energy import Estimate
    from gridwait.store.models import Job
from gridwait.units import format_duration, format_energy, format_mass, format_time, kwh


def register(app: typer.Typer) -> None:
    app.command()(submit)
    app.command()(queue)
    app.command()(show)
    app.command()(cancel)


def submit(
    ctx: typer.Context,
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC.toml", help="Job spec (TOML).")],
    deadline: Annotated[
        str | None, typer.Option(help="Override the spec's deadline: ISO time or e.g. 36h.")
    ] = None,
) -> None:
    """Validate a job spec and queue it; prints the new job id."""
    app = app_context(ctx)
    job, est, hw_note = submit_spec(app, spec_file, deadline)
    out.print(str(job.id))
    note(
        f"queued job {job.id} {job.name!r}: deadline {format_time(job.deadline)} UTC,"
        f" estimate {format_energy(est.energy_j)} over {format_duration(est.seconds)} ({est.level})"
    )
    if hw_note:
        note(f"note: {hw_note}")


def submit_spec(
    app: AppContext, spec_file: Path, deadline: str | None = None
) -> tuple[Job, Estimate, str | None]:
    """Validate, estimate and queue one spec: nothing is written unless all of it works."""
    from gridwait.cli.estimate import run_estimate
    from gridwait.scheduler.estimates import apply_estimate
    from gridwait.spec import check_model, load_spec_file, parse_spec, resolve
    from gridwait.store.jobs import add_job

    spec = parse_spec(load_spec_file(spec_file))
    base = spec_file.resolve().parent
    now = app.clock.now()
    submission = resolve(spec, now, base, deadline)
    model_ref = check_model(spec, base)
    dataset = str(submission.dataset_path) if submission.dataset_path else f"hub:{spec.dataset.hub}"
    est, hw_note = run_estimate(app, spec, model_ref, dataset)
    with app.store().write() as session:
        job = add_job(session, submission, model_ref, app.settings.scheduler.max_retries, now)
        apply_estimate(job, est)
        session.add(job)
    return job, est, hw_note


def queue(
    ctx: typer.Context,
    all_jobs: Annotated[bool, typer.Option("--all", help="Include finished jobs.")] = False,
    owner: Annotated[str | None, typer.Option("--user", help="Only this owner's jobs.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project's jobs.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List waiting and running jobs (with --all, finished ones too)."""
    from gridwait.store.queries import queue_rows

    with app_context(ctx).reader() as conn:
        rows = queue_rows(conn, include_final=all_jobs, owner=owner, project=project)
    if as_json:
        emit_json([_queue_json(r) for r in rows])
        return
    if not rows:
        note("the queue is empty")
        return
    table = Table(
        "id", "name", "owner", "project", "state", "gpus", "deadline", "start", "est", "forecast"
    )
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["owner"],
            r["project"],
            r["state"] + (" (late)" if r["plan_late"] else ""),
            str(r["gpus"]),
            format_time(r["deadline"]),
            format_time(r["planned_start"]),
            format_energy(r["est_energy_j"]),
            format_mass(r["plan_forecast_g"]),
        )
    out.print(table)


def _queue_json(row: dict[str, Any]) -> dict[str, Any]:
    energy = row.pop("est_energy_j")
    row["est_energy_kwh"] = None if energy is None else kwh(energy)
    row["late"] = row.pop("plan_late")
    row["reason"] = row.pop("state_reason")
    return row


def show(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonFlag = False,
) -> None:
    """Everything about one job: spec, estimate, plan, events and runs."""
    from gridwait.store.jobs import events, get_job
    from gridwait.store.runs import runs_of

    with app_context(ctx).store().read() as session:
        job = get_job(session, job_id)
        history = events(session, job_id)
        runs = runs_of(session, job_id)
    data = job.model_dump(exclude={"spec_json"})
    data["events"] = [e.model_dump(exclude={"id", "job_id"}) for e in history]
    data["runs"] = [r.model_dump() for r in runs]
    if as_json:
        emit_json(data)
        return
    out.print(f"job {job.id} {job.name!r}  [{job.state}]", markup=False)
    if job.state_reason:
        out.print(f"  reason: {job.state_reason}", markup=False)
    out.print(f"  owner {job.owner}, project {job.project}, model {job.model}", markup=False)
    out.print(f"  dataset {job.dataset}", markup=False)
    out.print(
        f"  submitted {format_time(job.submitted_at)}  earliest {format_time(job.earliest_start)}"
        f"  deadline {format_time(job.deadline)} UTC",
        markup=False,
    )
    if job.est_method:
        out.print(
            f"  estimate {format_energy(job.est_energy_j)} in {format_duration(job.est_seconds)}"
            f" ({job.est_tokens_padded} padded tokens; {job.est_method})",
            markup=False,
        )
    if job.planned_start:
        late = " LATE" if job.plan_late else ""
        out.print(
            f"  plan {format_time(job.planned_start)} -> {format_time(job.planned_end)}{late}:"
            f" {format_mass(job.plan_forecast_g)} forecast vs"
            f" {format_mass(job.plan_run_now_g)} run now ({job.plan_source})",
            markup=False,
        )
    for e in history:
        out.print(
            f"  {format_time(e.at)}  {e.from_state or '-'} -> {e.to_state}  {e.reason or ''}",
            markup=False,
        )
    for r in runs:
        out.print(
            f"  run {r.id} [{r.state}] {format_time(r.started_at)} -> {format_time(r.ended_at)}"
            f"  {format_energy(r.energy_facility_j)}  {format_mass(r.emissions_g)}",
            markup=False,
        )


def cancel(ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Cancel a job. A running worker is stopped by the service at its next tick."""
    from gridwait.store.jobs import cancel as cancel_job

    app = app_context(ctx)
    with app.store().write() as session:
        job = cancel_job(session, job_id, app.clock.now())
    note(f"cancelled job {job.id} {job.name!r}")
