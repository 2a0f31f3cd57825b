"""The lab's record and its budgets: history, report, export; budgets (admins change them)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.convertors import Convertor, register_url_convertor

from gridwait.api.auth import ActorDep, DepsDep
from gridwait.app.history import RunFilter
from gridwait.app.views import BudgetView, HistoryRow, ReportRow
from gridwait.clock import as_utc

router = APIRouter(prefix="/api/v1", tags=["review"])


class _Anything(Convertor[str]):
    """A path parameter that may hold anything a project's name may: '/' (sent as %2F,
    which the server decodes before routing) and, to be refused with a clear reason by the
    use case, control characters (`path` stops at a newline and answers a bare 404)."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anything", _Anything())
Scope = Literal["user", "project"]
Name = Annotated[str, Path(min_length=1, max_length=200)]


def _run_filter(
    user: Annotated[str | None, Query(description="Only this owner's runs.")] = None,
    project: Annotated[str | None, Query(description="Only this project's runs.")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Runs started at or after.")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Runs started before.")] = None,
    job: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only this job's runs.")
    ] = None,
) -> RunFilter:
    since, until = (None if t is None else as_utc(t) for t in (since, until))
    return RunFilter(user, project, since, until, job)


Which = Annotated[RunFilter, Depends(_run_filter)]


@router.get("/history")
def history(deps: DepsDep, actor: ActorDep, which: Which) -> list[HistoryRow]:
    """One row per run that started, oldest first, with how each number was had."""
    from gridwait.app.history import history as run_history

    return run_history(deps, actor, which)


@router.get("/report", response_model=list[ReportRow], response_model_exclude_unset=True)
def report(
    deps: DepsDep,
    actor: ActorDep,
    which: Which,
    by: Literal["user", "project", "month"] = "user",
) -> list[ReportRow]:
    """Totals per user, project or month: energy, emissions, savings, budget use."""
    from gridwait.app.history import report as run_report

    return run_report(deps, actor, by, which)


@router.get(
    "/export",
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    response_class=Response,
)
def export(
    deps: DepsDep,
    actor: ActorDep,
    which: Which,
    fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
) -> Response:
    """Every run as CSV (CodeCarbon's emissions.csv columns first) or JSON."""
    from gridwait.app.export import render
    from gridwait.app.history import export_rows

    rows = export_rows(deps, actor, which)
    media = "text/csv" if fmt == "csv" else "application/json"
    return Response(render(rows, fmt), media_type=media)


class BudgetBody(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    monthly_g: float = Field(gt=0, le=1e15, description="gCO2eq per calendar month.")
    counts: Literal["operational", "total"] = Field(
        "operational", description="What the budget counts: operational, or + embodied."
    )


@router.get("/budgets")
def budgets(deps: DepsDep, actor: ActorDep) -> list[BudgetView]:
    """Every budget with this month's use (actual) and commitments (planned, running)."""
    from gridwait.app.budgets import usage

    return usage(deps, actor)


@router.put("/budgets/{scope}/{name:anything}")
def set_budget(
    scope: Scope, name: Name, body: BudgetBody, deps: DepsDep, actor: ActorDep
) -> BudgetView:
    """Set or change a monthly budget (admins only)."""
    from gridwait.app.budgets import set_budget as set_one

    return set_one(deps, actor, scope, name, body.monthly_g, body.counts)


@router.delete("/budgets/{scope}/{name:anything}", status_code=status.HTTP_204_NO_CONTENT)
def remove_budget(scope: Scope, name: Name, deps: DepsDep, actor: ActorDep) -> None:
    """Remove a budget (admins only)."""
    from gridwait.app.budgets import remove_budget as remove_one

    remove_one(deps, actor, scope, name)
