"""Carbon budgets: the ledger, which job `check` holds and why, months in UTC. Every
expected number below is computed by hand from the case's own figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from gridwait.scheduler.budgets import Candidate, Ledger, Limit, check, month_bounds, month_of

MARCH = "2026-03"


def job(job_id: int, grams: float, owner: str = "ada", project: str = "nlp") -> Candidate:
    return Candidate(job_id, owner, project, MARCH, grams)


def ledger(*entries: tuple[str, str, str, float]) -> Ledger:
    book = Ledger()
    for owner, project, month, grams in entries:
        book.add(owner, project, month, grams)
    return book


# ---- the ledger ----------------------------------------------------------------------------


def test_ledger_charges_the_user_and_the_project_of_each_month() -> None:
    book = ledger(
        ("ada", "nlp", "2026-01", 120.0),
        ("ada", "vision", "2026-01", 30.0),
        ("bob", "nlp", "2026-01", 50.0),
        ("ada", "nlp", "2026-02", 7.0),
    )
    assert book.of("user", "ada", "2026-01") == 150.0  # 120 + 30, both projects
    assert book.of("user", "bob", "2026-01") == 50.0
    assert book.of("project", "nlp", "2026-01") == 170.0  # 120 + 50, both users
    assert book.of("project", "vision", "2026-01") == 30.0
    assert book.of("user", "ada", "2026-02") == 7.0  # another month, another sum
    assert book.of("project", "nlp", "2026-02") == 7.0


def test_ledger_knows_nothing_it_was_not_told() -> None:
    book = ledger(("ada", "nlp", "2026-01", 120.0))
    assert book.of("user", "ada", "2026-03") == 0.0  # no use that month
    assert book.of("user", "nlp", "2026-01") == 0.0  # a project is not a user of that name
    assert book.of("project", "ada", "2026-01") == 0.0
    assert Ledger().spent == {}


# ---- check -----------------------------------------------------------------------------------


def test_a_job_over_its_user_budget_is_held_with_the_reason() -> None:
    book = ledger(("ada", "nlp", MARCH, 900.0))
    held = check([job(1, 150.0)], [Limit("user", "ada", 1000.0)], book)
    assert held == {
        1: "user ada budget 1.00 kg/month, operational: 900 g used or committed in 2026-03,"
        " this job's 150 g would exceed it by 50 g"  # 900 + 150 - 1000
    }
    assert book.of("user", "ada", MARCH) == 900.0  # a held job commits nothing
    assert book.of("project", "nlp", MARCH) == 900.0


def test_a_job_exactly_at_the_limit_fits_and_the_next_gram_does_not() -> None:
    book = ledger(("ada", "nlp", MARCH, 900.0))
    limits = [Limit("user", "ada", 1000.0)]
    assert check([job(1, 100.0)], limits, book) == {}  # 900 + 100 = 1000: not over
    assert book.of("user", "ada", MARCH) == 1000.0
    held = check([job(2, 0.5)], limits, book)
    assert held[2].endswith("this job's 0.50 g would exceed it by 0.50 g")


def test_a_project_budget_holds_a_job_its_user_budget_allows() -> None:
    book = ledger(("bob", "nlp", MARCH, 400.0))  # bob's use counts against the project
    limits = [Limit("user", "ada", 10_000.0), Limit("project", "nlp", 500.0)]
    held = check([job(1, 150.0)], limits, book)  # ada: 0 + 150 of 10 kg; nlp: 400 + 150 of 500
    assert held == {
        1: "project nlp budget 500 g/month, operational: 400 g used or committed in 2026-03,"
        " this job's 150 g would exceed it by 50 g"
    }


def test_the_user_budget_is_named_first_when_both_are_exceeded() -> None:
    limits = [Limit("project", "nlp", 100.0), Limit("user", "ada", 100.0)]
    held = check([job(1, 300.0)], limits, Ledger())
    assert held[1].startswith("user ada budget 100 g/month, operational: 0.00 g used or committed")


def test_other_users_and_projects_are_not_limited_by_a_budget_not_theirs() -> None:
    limits = [Limit("user", "ada", 100.0), Limit("project", "vision", 100.0)]
    held = check([job(1, 5_000.0, owner="bob", project="nlp")], limits, Ledger())
    assert held == {}


def test_months_are_budgeted_separately() -> None:
    book = ledger(("ada", "nlp", MARCH, 100.0))  # March is used up exactly
    limits = [Limit("user", "ada", 100.0)]
    april = Candidate(1, "ada", "nlp", "2026-04", 80.0)
    assert check([april], limits, book) == {}
    assert book.of("user", "ada", "2026-04") == 80.0 and book.of("user", "ada", MARCH) == 100.0
    assert list(check([job(2, 1.0)], limits, book)) == [2]


@pytest.mark.parametrize(
    ("order", "held", "committed"),
    [
        ([1, 2, 3], [2], 900.0),  # 600 fits; 600 + 500 > 1000 is held; 600 + 300 fits
        ([3, 2, 1], [1], 800.0),  # 300 fits; 300 + 500 fits; 800 + 600 > 1000 is held
    ],
)
def test_candidates_are_committed_in_the_order_given(
    order: list[int], held: list[int], committed: float
) -> None:
    grams = {1: 600.0, 2: 500.0, 3: 300.0}
    book = Ledger()
    result = check([job(i, grams[i]) for i in order], [Limit("project", "nlp", 1000.0)], book)
    assert sorted(result) == held
    assert book.of("project", "nlp", MARCH) == committed


def test_without_limits_nothing_is_held_and_everything_is_counted() -> None:
    book = Ledger()
    assert check([job(1, 1e9), job(2, 1e9, owner="bob")], [], book) == {}
    assert book.of("project", "nlp", MARCH) == 2e9
    assert book.of("user", "bob", MARCH) == 1e9


# ---- months ----------------------------------------------------------------------------------


def test_month_of_is_the_utc_month() -> None:
    assert month_of(datetime(2026, 3, 15, 12, tzinfo=UTC)) == "2026-03"
    new_year_in_cairo = datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert month_of(new_year_in_cairo) == "2025-12"  # 2025-12-31 22:30 UTC


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        (datetime(2025, 12, 17, 9, tzinfo=UTC), datetime(2025, 12, 1), datetime(2026, 1, 1)),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1), datetime(2026, 2, 1)),
        (  # the last microsecond of December is still December
            datetime(2026, 1, 1, tzinfo=UTC) - timedelta(microseconds=1),
            datetime(2025, 12, 1),
            datetime(2026, 1, 1),
        ),
        (  # 01:00 on New Year's Day at UTC+2 is 23:00 on 31 December UTC
            datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 12, 1),
            datetime(2026, 1, 1),
        ),
        (datetime(2028, 2, 29, 23, tzinfo=UTC), datetime(2028, 2, 1), datetime(2028, 3, 1)),
    ],
)
def test_month_bounds_are_utc_and_end_exclusive(
    when: datetime, start: datetime, end: datetime
) -> None:
    bounds = month_bounds(when)
    assert bounds == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
    assert bounds[0] <= when < bounds[1]
    assert all(b.tzinfo == UTC for b in bounds)


# ---- what a budget counts ------------------------------------------------------------------


def test_a_total_budget_counts_embodied_grams_an_operational_one_does_not() -> None:
    book = Ledger()
    book.add("ada", "nlp", MARCH, 800.0, embodied=150.0)  # a run that ended: 800 + 150 g
    planned = Candidate(1, "ada", "nlp", MARCH, 100.0, embodied_g=60.0)
    assert book.of("user", "ada", MARCH) == 800.0
    assert book.of("user", "ada", MARCH, "total") == 950.0
    # operational: 800 + 100 = 900 of 1 kg fits; total: 950 + 160 = 1110 is 110 g over
    assert check([planned], [Limit("user", "ada", 1000.0)], Ledger(dict(book.spent))) == {}
    held = check([planned], [Limit("user", "ada", 1000.0, "total")], book)
    assert held == {
        1: "user ada budget 1.00 kg/month, total (operational + embodied): 950 g used or"
        " committed in 2026-03, this job's 160 g would exceed it by 110 g"
    }
