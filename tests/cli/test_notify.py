"""`gridwait notify test` and `gridwait user notify`: each target's outcome on one line,
URLs shown only masked, mistakes in one line with nothing written."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import Cli
from tests.notify.json_target import JsonTarget, closed_port, target

__all__ = ["closed_port", "target"]  # the fixtures


def _lab_urls(env: Path, *urls: str) -> None:
    quoted = ", ".join(json.dumps(u) for u in urls)
    (env.parent / "gridwait.toml").write_text(f"[notify]\nurls = [{quoted}]\ntimeout_s = 2\n")


def test_the_lab_targets_each_report_on_one_line(
    cli: Cli, env: Path, target: JsonTarget, closed_port: int
) -> None:
    down = f"json://lab:hunter2@127.0.0.1:{closed_port}/hook"
    _lab_urls(env, target.url("/lab"), down)
    done = cli("notify", "test")
    assert done.code == 1  # one target failed
    lines = done.out.splitlines()
    assert lines[0] == f"ok    json://127.0.0.1:{target.server_address[1]}/lab"
    assert lines[1].startswith(f"FAIL  json://lab:****@127.0.0.1:{closed_port}/hook: ")
    assert "connection error" in lines[1].lower() and len(lines) == 2
    assert "hunter2" not in done.out + done.err
    assert target.titles() == ["gridwait: test notification"]
    as_json = json.loads(cli("notify", "test", "--json").out)
    assert [(d["ok"], d["target"].split("@")[0]) for d in as_json] == [
        (True, f"json://127.0.0.1:{target.server_address[1]}/lab"),
        (False, "json://lab:****"),
    ]


def test_a_users_own_url_is_stored_masked_and_tested(
    cli: Cli, env: Path, target: JsonTarget
) -> None:
    assert cli("user", "add", "ada").code == 0
    url = target.url("/ada-secret-webhook")
    done = cli("user", "notify", "ada", url)
    assert done.code == 0 and "json://****" in done.err and "secret-webhook" not in done.err
    listed = json.loads(cli("user", "list", "--json").out)
    assert listed[0]["notify"] == "json://****" and "secret-webhook" not in json.dumps(listed)
    tested = cli("notify", "test", "-u", "ada")
    assert tested.code == 0 and tested.out.startswith("ok    json://127.0.0.1:")
    assert target.paths == ["/ada-secret-webhook"]
    assert cli("user", "notify", "ada", "--clear").code == 0
    assert json.loads(cli("user", "list", "--json").out)[0]["notify"] is None


def test_mistakes_are_one_line_and_write_nothing(cli: Cli, env: Path) -> None:
    cli("user", "add", "ada")
    cases = [
        (("notify", "test"), "error: no lab notification URLs: set [notify] urls"),
        (("notify", "test", "-u", "ada"), "error: user 'ada' has no notification URL"),
        (("notify", "test", "-u", "nobody"), "error: no user 'nobody'"),
        (
            ("user", "notify", "ada", "nosuch://tok3n@host"),
            "error: notify URL nosuch://****: not a URL apprise knows",
        ),
        (("user", "notify", "ada"), "error: user notify: give a URL or --clear"),
        (("user", "notify", "nobody", "json://h/x"), "error: no user 'nobody'"),
    ]
    for args, expected in cases:
        done = cli(*args)
        assert done.code != 0 and done.err.startswith(expected), (args, done.err)
        assert len(done.err.strip().splitlines()) == 1 and "tok3n" not in done.err
    with sqlite3.connect(env) as conn:
        assert conn.execute("SELECT notify_url FROM users").fetchall() == [(None,)]


def test_settings_mask_the_urls_and_refuse_a_bad_one(cli: Cli, env: Path) -> None:
    _lab_urls(env, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#lab")
    shown = cli("config", "show", "--json")
    assert json.loads(shown.out)["notify"]["urls"] == ["**********"]
    assert "TIiajkdn" not in shown.out + cli("config", "show").out
    _lab_urls(env, "hooks.example.org/s3cret")
    refused = cli("notify", "test")
    assert refused.code != 0 and "notify.urls: URL 1 is not an apprise URL" in refused.err
    assert "s3cret" not in refused.err
