"""The CLI as a remote client: with GRIDWAIT_URL and GRIDWAIT_TOKEN the same commands go
over HTTP to a real server and print and exit as they do on the local database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.conftest import Lab
from tests.conftest import Cli, write_spec


@pytest.fixture
def remote(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.setenv("GRIDWAIT_URL", lab.url)
    monkeypatch.setenv("GRIDWAIT_TOKEN", lab.tokens["alice"])
    return lab


def _local(cli: Cli, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    with monkeypatch.context() as m:
        m.delenv("GRIDWAIT_URL")
        m.delenv("GRIDWAIT_TOKEN")
        result = cli(*args)
    assert result.code == 0, result.err
    return result.out


def test_the_same_answers_remote_and_local(
    remote: Lab, cli: Cli, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = cli("submit", spec_file, "--deadline", "now+2days")
    assert submitted.code == 0, submitted.err
    job_id = int(submitted.out.strip())
    assert f"queued job {job_id} 'reviews'" in submitted.err
    estimate = cli("estimate", spec_file, "--json")
    assert estimate.code == 0 and json.loads(estimate.out)["energy_kwh"] > 0
    for args in (
        ("queue", "--json"),
        ("queue", "--all", "-u", "alice", "--json"),
        ("show", str(job_id), "--json"),
        ("history", "--json"),
        ("history", "-j", str(job_id), "--json"),
        ("report", "--by", "user", "--json"),
        ("export", "--format", "csv"),
        ("export", "--format", "json"),
        ("budget", "list", "--json"),
    ):
        answer = cli(*args)
        assert answer.code == 0, (args, answer.err)
        assert answer.out == _local(cli, monkeypatch, *args), args
    shown = json.loads(cli("show", str(job_id), "--json").out)
    # the relative dataset path was made absolute on the client, and the owner is the token's
    assert shown["dataset"] == str(spec_file.parent / "data" / "reviews.csv")
    assert shown["owner"] == "alice"
    table = cli("queue")
    assert table.code == 0 and "reviews" in table.out
    plan = cli("plan", "--json")
    assert plan.code == 0 and [j["id"] for j in json.loads(plan.out)["jobs"]] == [job_id]
    forecast = cli("forecast", "--hours", "6", "--json")
    assert forecast.code == 0 and json.loads(forecast.out)["provider"] == "profile"
    cancelled = cli("cancel", str(job_id))
    assert cancelled.code == 0, cancelled.err


def test_refusals_exit_as_they_would_locally(
    remote: Lab, cli: Cli, spec_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = int(cli("submit", spec_file).out.strip())
    cases: list[tuple[tuple[str, ...], int, str]] = [
        (
            ("budget", "set", "-u", "alice", "--monthly", "1kg"),
            3,
            "only admins may do this (alice is a member)",
        ),
        (("show", "999"), 1, "error: no job with id 999"),
        (("cancel", "999"), 1, "error: no job with id 999"),
    ]
    bob_spec = write_spec(
        tmp_path, spec_file.read_text().replace('owner = "alice"', 'owner = "bob"'), "bob.toml"
    )
    cases.append((("submit", str(bob_spec)), 3, "submit as bob: it belongs to bob, not to alice"))
    missing = write_spec(
        tmp_path, spec_file.read_text().replace("data/reviews.csv", "data/none.csv"), "m.toml"
    )
    cases.append((("submit", str(missing)), 2, "none.csv is not visible on the scheduler host"))
    for args, code, message in cases:
        result = cli(*args)
        assert (result.code, len(result.err.strip().splitlines())) == (code, 1), (args, result)
        assert message in result.err, (args, result.err)
    monkeypatch.setenv("GRIDWAIT_TOKEN", remote.tokens["bob"])
    refused = cli("cancel", str(job_id))
    assert refused.code == 3 and f"cancel job {job_id}: it belongs to alice" in refused.err
    monkeypatch.setenv("GRIDWAIT_TOKEN", "gw_not-a-token")
    wrong = cli("queue")
    assert wrong.code == 3 and wrong.err.strip() == "error: unknown or revoked API token"
    monkeypatch.delenv("GRIDWAIT_TOKEN")
    none = cli("queue")
    assert none.code == 2 and "GRIDWAIT_URL is" in none.err and "no token" in none.err


def test_an_unreachable_service_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWAIT_URL", "http://127.0.0.1:9")  # discard: nothing listens
    monkeypatch.setenv("GRIDWAIT_TOKEN", "gw_x")
    result = cli("queue")
    assert result.code == 1
    assert result.err.strip() == (
        "error: cannot reach gridwait at http://127.0.0.1:9: connection refused"
        " (is `gridwait run` serving there?)"
    )
    monkeypatch.setenv("GRIDWAIT_URL", "ftp://x")
    assert "is not an http(s) URL" in cli("queue").err


def test_a_budget_name_is_one_path_segment(
    remote: Lab, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDWAIT_TOKEN", remote.tokens["root"])
    assert cli("budget", "set", "-p", "nlp/v2?x", "--monthly", "2kg").code == 0
    listed = json.loads(cli("budget", "list", "--json").out)
    assert [b["name"] for b in listed] == ["nlp/v2?x"]
    assert cli("budget", "rm", "-p", "nlp/v2?x").code == 0
    assert json.loads(cli("budget", "list", "--json").out) == []
