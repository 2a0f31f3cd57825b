"""A user's own notification URL over HTTP: set for oneself (an admin for anyone), shown
only masked, refused in one line when apprise does not know it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.api.conftest import Lab

SECRET = "json://hook-user:pa55word@127.0.0.1:9/alice"


def _stored(env: Path, name: str) -> str | None:
    with sqlite3.connect(env) as conn:
        row = conn.execute("SELECT notify_url FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def test_a_member_sets_their_own_url_and_sees_it_masked(lab: Lab, env: Path) -> None:
    done = lab.as_("alice", "PUT", "/api/v1/users/alice/notify", json={"url": SECRET})
    assert done.status_code == 200 and done.json()["notify"] == "json://****"
    assert "pa55word" not in done.text and _stored(env, "alice") == SECRET
    listed = lab.as_("root", "GET", "/api/v1/users")
    assert {u["name"]: u["notify"] for u in listed.json()}["alice"] == "json://****"
    assert "pa55word" not in listed.text
    assert lab.as_("alice", "DELETE", "/api/v1/users/alice/notify").status_code == 204
    assert _stored(env, "alice") is None


def test_another_members_url_is_refused_and_nothing_written(lab: Lab, env: Path) -> None:
    refused = lab.as_("bob", "PUT", "/api/v1/users/alice/notify", json={"url": SECRET})
    assert refused.status_code == 403 and "belongs to alice, not to bob" in refused.json()["detail"]
    assert _stored(env, "alice") is None


def test_an_unknown_scheme_is_one_line_without_the_url(lab: Lab, env: Path) -> None:
    bad = lab.as_("alice", "PUT", "/api/v1/users/alice/notify", json={"url": "nosuch://t0ken@x"})
    assert 400 <= bad.status_code < 500
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "not a URL apprise knows" in bad.json()["detail"] and "t0ken" not in bad.text
    assert _stored(env, "alice") is None
