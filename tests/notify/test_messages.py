"""The words of each notice: the numbers a researcher reads at breakfast."""

from __future__ import annotations

from datetime import timedelta

from gridwait.notify import messages
from gridwait.notify.messages import JobFacts, Outcome
from tests.conftest import T0

JOB = JobFacts(
    id=7,
    name="bert-sst2",
    owner="ada",
    project="nlp",
    deadline=T0 + timedelta(hours=20),
    planned_start=T0 + timedelta(hours=3),
    planned_end=T0 + timedelta(hours=4),
    forecast_g=120.0,
    run_now_g=480.0,
)


def test_finished_gives_energy_emissions_and_saving_in_grams_and_percent() -> None:
    spent = Outcome(
        energy_j=2.5 * 3.6e6,
        emissions_g=250.0,
        counterfactual_g=1000.0,
        saving_g=750.0,
        provisional=False,
    )
    message = messages.finished(JOB, T0 + timedelta(hours=4), spent)
    assert message.title == "gridwait: job 7 'bert-sst2' finished"
    assert message.body.splitlines() == [
        "job 7 'bert-sst2' (ada, project nlp) finished at 2026-03-02 13:00 UTC.",
        "Energy: 2.500 kWh (facility).",
        "Emissions: 250.0 gCO2e (on the grid's actual intensity).",
        "Saving: 750.0 gCO2e (75.0 %) against starting at submission.",
    ]


def test_provisional_emissions_and_a_negative_saving_are_said_so() -> None:
    spent = Outcome(3.6e6, 1200.5, 1000.0, -200.5, provisional=True)
    body = messages.finished(JOB, T0, spent).body
    assert "Emissions: 1,200.5 gCO2e (provisional: on the forecast until" in body
    assert "Saving: -200.5 gCO2e (-20.1 %) against starting at submission." in body


def test_a_failure_says_why_and_what_it_used() -> None:
    spent = Outcome(0.5 * 3.6e6, 50.0, None, None, provisional=False)
    body = messages.failed(JOB, T0, "run 3: CUDA out of memory", spent).body
    assert body.splitlines()[0].endswith(
        "failed at 2026-03-02 09:00 UTC: run 3: CUDA out of memory."
    )
    assert "Energy: 0.500 kWh (facility)." in body and "Saving" not in body
    nothing = Outcome(None, None, None, None, provisional=False)
    assert messages.failed(JOB, T0, None, nothing).body.count("\n") == 0


def test_started_held_and_late_name_the_window_the_reason_and_the_deadline() -> None:
    started = messages.started(JOB, T0 + timedelta(hours=3)).body
    assert "Forecast 120.0 gCO2e in this window against 480.0 gCO2e" in started
    held = messages.held(JOB, T0, "user ada: 130 g would exceed the 100 g budget")
    assert held.title == "gridwait: job 7 'bert-sst2' held by a budget"
    assert "held since 2026-03-02 09:00 UTC: user ada: 130 g would exceed" in held.body
    late = messages.late(JOB, "needs 1.0 h but only 0.5 h remain before the deadline")
    assert late.title == "gridwait: job 7 'bert-sst2' will be late"
    assert "will miss its deadline 2026-03-03 05:00 UTC: needs 1.0 h" in late.body
    assert "It starts 2026-03-02 12:00 UTC and should end 2026-03-02 13:00 UTC." in late.body
