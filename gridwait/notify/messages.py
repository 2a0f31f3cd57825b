"""The words of each notification, from plain values. Energy in kWh, emissions in gCO2eq
(always grams: a message is read once and compared with the last one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridwait.notify.base import Message
from gridwait.units import kwh


@dataclass(frozen=True)
class JobFacts:
    id: int
    name: str
    owner: str
    project: str
    deadline: datetime
    planned_start: datetime | None = None
    planned_end: datetime | None = None
    forecast_g: float | None = None
    """The planned window's forecast gCO2eq."""
    run_now_g: float | None = None
    """The forecast gCO2eq had it started at once."""


@dataclass(frozen=True)
class Outcome:
    """A job's runs added up: facility energy in joules, emissions in gCO2eq."""

    energy_j: float | None
    emissions_g: float | None
    counterfactual_g: float | None
    saving_g: float | None
    provisional: bool


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"


def _grams(value: float) -> str:
    return f"{value:,.1f} gCO2e"


def _who(job: JobFacts) -> str:
    return f"job {job.id} '{job.name}' ({job.owner}, project {job.project})"


def _title(job: JobFacts, what: str) -> str:
    return f"gridwait: job {job.id} '{job.name}' {what}"


def started(job: JobFacts, at: datetime) -> Message:
    lines = [f"{_who(job)} started at {_when(at)}."]
    if job.planned_end is not None:
        lines.append(f"Planned to end by {_when(job.planned_end)}; deadline {_when(job.deadline)}.")
    if job.forecast_g is not None and job.run_now_g is not None:
        lines.append(
            f"Forecast {_grams(job.forecast_g)} in this window against"
            f" {_grams(job.run_now_g)} had it started at submission."
        )
    return Message("started", _title(job, "started"), "\n".join(lines), job.id)


def _footprint(outcome: Outcome) -> list[str]:
    lines = []
    if outcome.energy_j is not None:
        lines.append(f"Energy: {kwh(outcome.energy_j):.3f} kWh (facility).")
    if outcome.emissions_g is not None:
        how = (
            "provisional: on the forecast until the grid's actuals are published"
            if outcome.provisional
            else "on the grid's actual intensity"
        )
        lines.append(f"Emissions: {_grams(outcome.emissions_g)} ({how}).")
    if outcome.saving_g is not None:
        share = ""
        if outcome.counterfactual_g:
            share = f" ({outcome.saving_g / outcome.counterfactual_g * 100:.1f} %)"
        lines.append(f"Saving: {_grams(outcome.saving_g)}{share} against starting at submission.")
    return lines


def finished(job: JobFacts, at: datetime, outcome: Outcome) -> Message:
    lines = [f"{_who(job)} finished at {_when(at)}.", *_footprint(outcome)]
    return Message("finished", _title(job, "finished"), "\n".join(lines), job.id)


def failed(job: JobFacts, at: datetime, reason: str | None, outcome: Outcome) -> Message:
    lines = [f"{_who(job)} failed at {_when(at)}: {reason or 'no reason given'}."]
    if outcome.energy_j is not None:
        lines.append("Used before it failed:")
        lines.extend(_footprint(outcome))
    return Message("failed", _title(job, "failed"), "\n".join(lines), job.id)


def held(job: JobFacts, at: datetime, reason: str | None) -> Message:
    lines = [
        f"{_who(job)} is held since {_when(at)}: {reason or 'over a budget'}.",
        "It waits until an admin raises the budget or the month rolls over;"
        f" deadline {_when(job.deadline)}.",
    ]
    return Message("held", _title(job, "held by a budget"), "\n".join(lines), job.id)


def late(job: JobFacts, reason: str | None) -> Message:
    lines = [f"{_who(job)} will miss its deadline {_when(job.deadline)}: {reason or 'late'}."]
    if job.planned_start is not None and job.planned_end is not None:
        lines.append(
            f"It starts {_when(job.planned_start)} and should end {_when(job.planned_end)}."
        )
    return Message("late", _title(job, "will be late"), "\n".join(lines), job.id)


def test_message(at: datetime) -> Message:
    return Message(
        "test",
        "gridwait: test notification",
        f"A test from gridwait at {_when(at)}: this target receives the lab's job notices.",
    )
