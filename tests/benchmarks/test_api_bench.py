"""The API benchmark: its quick run end to end (servers and client processes, a few
seconds), every job accounted for; and its tally catching a lost and a duplicated job.
Timings are the benchmark's business, not the test's: no goal is asserted here."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from benchmarks.api import tally
from tests.conftest import run_benchmark


@pytest.mark.slow
def test_the_quick_run_loses_and_duplicates_nothing() -> None:
    done = run_benchmark("api", "--quick", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"submits", "listing", "goals", "pass", "total_runtime_s"}
    submits = result["submits"]
    assert submits["expected"] == 20
    for side in ("http", "in_process_sequential"):
        counts = submits[side]
        assert counts["jobs_in_db"] == 20, counts
        assert counts["lost"] == counts["duplicated"] == counts["unexpected"] == 0
        assert counts["errors"] == 0, counts["first_errors"]
        assert counts["answered_ids_distinct"] and counts["answered_ids_in_db"]
        assert counts["submits_per_s"] > 0
    assert submits["ratio_http_to_in_process"] > 0
    listing = result["listing"]
    assert listing["local_rows"] == listing["http_rows"] == listing["jobs"] == 200
    assert listing["ratio_http_to_local_median"] > 0
    assert result["pass"]["none_lost_or_duplicated"] and result["pass"]["listing_rows_match"]
    assert set(result["pass"]) >= {"submit_ratio", "listing_ratio"}
    assert result["goals"] == {"submit_ratio_at_least": 0.5, "listing_ratio_at_most": 1.5}


def test_the_tally_sees_a_lost_and_a_duplicated_job(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)")
        # client 0 sent c0-0 and c0-1: c0-0 arrived twice, c0-1 never, and a stranger came
        names = ["warmup", "c0-0", "c0-0", "stranger"]
        conn.executemany("INSERT INTO jobs (name) VALUES (?)", [(n,) for n in names])
    counts = tally(db, clients=1, submits=2, answered=[2, 3, 3], errors=["c0-1: 503"])
    assert counts["jobs_in_db"] == 3  # the warm-up job is not counted
    assert (counts["lost"], counts["duplicated"], counts["unexpected"]) == (1, 1, 1)
    assert counts["answered_ids_distinct"] is False and counts["answered_ids_in_db"] is True
    assert counts["errors"] == 1 and counts["first_errors"] == ["c0-1: 503"]
