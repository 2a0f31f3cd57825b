"""`gridwait user`: accounts and tokens on the scheduler host."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.conftest import Cli


def test_add_list_token_revoke_remove(cli: Cli, env: Path) -> None:
    assert cli("user", "add", "alice").code == 0
    added = cli("user", "add", "root", "--admin")
    assert added.code == 0 and "added admin root" in added.err
    made = cli("user", "token", "alice", "--name", "laptop")
    assert made.code == 0 and "shown once" in made.err
    secret = made.out.strip()
    assert secret.startswith("gw_") and "\n" not in secret  # stdout holds the token alone
    with sqlite3.connect(env) as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert stored != secret and len(stored) == 64  # only its SHA-256 is kept
    listed = json.loads(cli("user", "list", "--json").out)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "member"), ("root", "admin")]
    assert listed[0]["tokens"][0]["name"] == "laptop" and secret not in json.dumps(listed)
    table = cli("user", "list")
    assert "laptop (never)" in table.out
    token_id = listed[0]["tokens"][0]["id"]
    assert cli("user", "revoke", "alice", str(token_id)).code == 0
    assert json.loads(cli("user", "list", "--json").out)[0]["tokens"] == []
    assert cli("user", "rm", "alice").code == 0
    assert [u["name"] for u in json.loads(cli("user", "list", "--json").out)] == ["root"]


def test_mistakes_are_one_line(cli: Cli) -> None:
    cli("user", "add", "alice")
    cli("user", "token", "alice", "--name", "laptop")
    cases = [
        (("user", "add", "alice"), 2, "error: user 'alice' exists already"),
        (("user", "add", "al ice"), 2, "error: user: 'al ice' is not a name"),
        (("user", "token", "alice", "--name", "laptop"), 2, "has a token named 'laptop' already"),
        (("user", "token", "nobody"), 1, "error: no user 'nobody'"),
        (("user", "revoke", "alice", "99"), 1, "error: user 'alice' has no token 99"),
        (("user", "rm", "nobody"), 1, "error: no user 'nobody'"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert (result.code, len(result.err.strip().splitlines())) == (code, 1), (args, result)
        assert message in result.err, (args, result.err)
