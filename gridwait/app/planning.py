"""The plan of the queue against the current forecast, as a dry run: nothing is
written and nothing starts (the service applies the same pass on every poll)."""

from __future__ import annotations

from gridwait.app.actor import Actor
from gridwait.app.deps import Deps
from gridwait.app.views import PlanRow, PlanView
from gridwait.scheduler.planner import Placement
from gridwait.scheduler.queue_plan import PlanReport, plan_queue
from gridwait.store.models import Job


def plan(deps: Deps, actor: Actor) -> PlanView:
    """Every queued, held, planned or suspended job with its window, forecast and run-now
    grams, or why it is held or late."""
    del actor  # the lab's plan is everyone's to read
    store, provider = deps.store(), deps.provider()
    report = plan_queue(
        store, deps.settings, deps.clock, provider, apply=False, zones=deps.zone_providers()
    )
    cluster = _cluster_load(deps)
    if cluster is not None:
        report.notes.append(cluster)
    return plan_view(report)


def _cluster_load(deps: Deps) -> str | None:
    """How busy the launch target is (Slurm: jobs pending for resources); said, not fatal,
    when it cannot be asked."""
    if all(t.kind == "local" for t in deps.settings.launch_targets()):
        return None
    from gridwait.errors import LaunchError
    from gridwait.workers.launchers.factory import make_launcher

    try:
        return make_launcher(deps.settings.model_copy(update={"launcher": "slurm"})).load()
    except LaunchError as exc:
        return f"cluster load unknown: {exc}"


def plan_view(report: PlanReport) -> PlanView:
    rows = [_row(p, report.jobs[p.job_id]) for p in report.placements]
    rows += [_held(report.jobs[i], reason) for i, reason in report.held.items()]
    return PlanView(now=report.now, notes=report.notes, jobs=sorted(rows, key=lambda r: r.id))


def _row(p: Placement, job: Job) -> PlanRow:
    return PlanRow(
        id=p.job_id,
        name=job.name,
        owner=job.owner,
        project=job.project,
        status="late" if p.late else "planned",
        start=p.start,
        end=p.end,
        segments=list(p.segments),
        forecast_g=p.forecast_g,
        run_now_g=p.run_now_g,
        saving_g=p.saving_g,
        fallback_share=p.fallback_share,
        source=p.source,
        reason=p.reason,
        target=p.target or None,
        zone=p.zone or None,
        where=p.where,
    )


def _held(job: Job, reason: str) -> PlanRow:
    assert job.id is not None
    return PlanRow(
        id=job.id,
        name=job.name,
        owner=job.owner,
        project=job.project,
        status="held",
        start=None,
        end=None,
        segments=[],
        forecast_g=None,
        run_now_g=None,
        saving_g=None,
        fallback_share=None,
        source=None,
        reason=reason,
    )
