"""Every bad input of the fault sweep (issue 14) and every bad spec of the first wave,
through the real CLI in a subprocess: one clear line on stderr starting with `error:`, a
non-zero exit within 30 s, no traceback, and nothing written to the database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.test_submit import BAD_SPECS, GOOD
from tests.conftest import count_rows

LIMIT_S = 30


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    message: str
    """A substring of the one error line."""
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    """Files to write under the test folder first (name -> text)."""
    regex: bool = False
    """`message` is a regular expression (the first wave's table)."""


def spec(extra: str = "", body: str = GOOD) -> str:
    return extra + body


DEEP = "a = " + "[" * 3000 + "]" * 3000 + "\n"
CASES = [
    Case(
        "database not sqlite",
        ("queue",),
        "is not a gridwait database",
        files={"gridwait.db": "not a database\n" * 10},
    ),
    Case(
        "database not sqlite, show",
        ("show", "1"),
        "move it aside and run `gridwait init`",
        files={"gridwait.db": "x" * 5000},
    ),
    Case(
        "export into a missing folder",
        ("export", "--out", "{tmp}/nope/x.csv"),
        "folder {tmp}/nope does not exist",
    ),
    Case("export onto a folder", ("export", "--out", "{tmp}"), "is a folder"),
    Case("export format", ("export", "--format", "xml"), "--format: expected csv or json"),
    Case(
        "settings path is a folder",
        ("queue",),
        "is a folder, not a TOML file",
        env={"GRIDWAIT_CONFIG": "{tmp}/data"},
    ),
    Case(
        "GRIDWAIT_CONFIG missing",
        ("queue",),
        "no such file",
        env={"GRIDWAIT_CONFIG": "{tmp}/absent.toml"},
    ),
    Case(
        "GRIDWAIT_GRID not JSON",
        ("queue",),
        "GRIDWAIT_GRID is not valid JSON",
        env={"GRIDWAIT_GRID": "notjson"},
    ),
    Case(
        "bad variable blamed on itself",
        ("queue",),
        "environment GRIDWAIT_ENERGY__PUE",
        env={"GRIDWAIT_ENERGY__PUE": "0.5"},
    ),
    Case(
        "provider URL not a URL",
        ("queue",),
        "is not an http(s) URL",
        env={"GRIDWAIT_UK_URL": "not a url"},
    ),
    Case("settings not TOML", ("queue",), "not valid TOML", files={"gridwait.toml": "grid = [\n"}),
    Case(
        "settings nested 3000 deep", ("queue",), "nested too deeply", files={"gridwait.toml": DEEP}
    ),
    Case(
        "horizon inf",
        ("plan",),
        "grid.horizon_hours: input should be a finite number",
        files={"gridwait.toml": "[grid]\nhorizon_hours = inf\n"},
    ),
    Case(
        "pue inf",
        ("plan",),
        "energy.pue: input should be a finite number",
        files={"gridwait.toml": "[energy]\npue = inf\n"},
    ),
    Case(
        "cpu watts inf",
        ("plan",),
        "cpu_watts_per_core: input should be a finite number",
        files={"gridwait.toml": "[energy]\ncpu_watts_per_core = inf\n"},
    ),
    Case(
        "timeout inf",
        ("plan",),
        "grid.timeout_s: input should be a finite number",
        files={"gridwait.toml": "[grid]\ntimeout_s = inf\n"},
    ),
    Case(
        "step minutes tiny",
        ("plan",),
        "scheduler.step_minutes: input should be greater than or equal to 1",
        files={"gridwait.toml": "[scheduler]\nstep_minutes = 1e-6\n"},
    ),
    Case(
        "grid seed 2**32",
        ("plan",),
        "grid.seed: input should be less than or equal to 4294967295",
        files={"gridwait.toml": "[grid]\nseed = 4294967296\n"},
    ),
    Case(
        "deadline 99999999999w",
        ("submit", "{tmp}/job.toml", "--deadline", "99999999999w"),
        "deadline: duration '99999999999w' is over",
        files={"job.toml": GOOD},
    ),
    Case(
        "deadline 1e20h",
        ("submit", "{tmp}/job.toml", "--deadline", "1e20h"),
        "deadline: '1e20h' is neither a duration",
        files={"job.toml": GOOD},
    ),
    Case(
        "spec deadline 99999999999w",
        ("submit", "{tmp}/job.toml"),
        "is over 3660 days",
        files={"job.toml": GOOD.replace('"36h"', '"99999999999w"')},
    ),
    Case("id 2**64 show", ("show", str(2**64)), "Invalid value for 'ID'"),
    Case("id 2**64 cancel", ("cancel", str(2**64)), "Invalid value for 'ID'"),
    Case("id zero", ("show", "0"), "Invalid value for 'ID'"),
    Case(
        "since year 9999 with offset",
        ("history", "--since", "9999-12-31T23:00-05:00"),
        "--since: '9999-12-31T23:00-05:00' is out of range",
    ),
    Case("until not a time", ("report", "--until", "soon"), "--until: 'soon' is not an ISO 8601"),
    Case(
        "deadline now+3parsecs",
        ("submit", "{tmp}/job.toml", "--deadline", "now+3parsecs"),
        "--deadline: 'now+3parsecs': '3parsecs' is not a duration",
        files={"job.toml": GOOD},
    ),
    Case("since now-3parsecs", ("history", "--since", "now-3parsecs"), "--since: 'now-3parsecs'"),
    Case("report by", ("report", "--by", "team"), "--by: expected user, project or month"),
    Case(
        "clock nan",
        ("run", "--clock", "sim:nan", "--until-idle"),
        "clock: the factor must be above 0",
    ),
    Case(
        "clock inf",
        ("run", "--clock", "sim:inf", "--until-idle"),
        "clock: the factor must be above 0",
    ),
    Case(
        "clock 1e300",
        ("run", "--clock", "sim:1e300", "--until-idle"),
        "clock: the factor must be above 0",
    ),
    Case(
        "clock word",
        ("run", "--clock", "fast", "--until-idle"),
        "clock: expected 'system' or 'sim:FACTOR'",
    ),
    Case(
        "spec nested 3000 deep",
        ("submit", "{tmp}/job.toml"),
        "nested too deeply to be a job spec",
        files={"job.toml": DEEP},
    ),
    Case(
        "seed 2**32",
        ("submit", "{tmp}/job.toml"),
        "seed: input should be less than or equal to 4294967295",
        files={"job.toml": spec("seed = 4294967296\n")},
    ),
    Case(
        "epochs 1e18",
        ("submit", "{tmp}/job.toml"),
        "epochs: input should be less than or equal to 1000",
        files={"job.toml": spec("epochs = 1000000000000000000\n")},
    ),
    Case(
        "batch size 1e9",
        ("submit", "{tmp}/job.toml"),
        "batch_size: input should be less than or equal to 65536",
        files={"job.toml": spec("batch_size = 1000000000\n")},
    ),
    Case(
        "learning rate nan",
        ("submit", "{tmp}/job.toml"),
        "learning_rate:",
        files={"job.toml": spec("learning_rate = nan\n")},
    ),
    Case(
        "gpus beyond the lab",
        ("submit", "{tmp}/job.toml"),
        "gpus: the lab lends gridwait 1 GPU(s); this job asks for 5",
        files={"job.toml": spec("gpus = 5\n")},
    ),
    Case(
        "name with an escape",
        ("submit", "{tmp}/job.toml"),
        "holds control characters",
        files={"job.toml": GOOD.replace('"reviews"', '"x\\u001b[2Jy"')},
    ),
    Case(
        "name with a newline",
        ("submit", "{tmp}/job.toml"),
        "holds control characters",
        files={"job.toml": GOOD.replace('"reviews"', '"x\\ny"')},
    ),
    Case(
        "owner with a tab",
        ("submit", "{tmp}/job.toml"),
        "owner:",
        files={"job.toml": spec('owner = "a\\tb"\n')},
    ),
    Case(
        "TOML datetime without offset",
        ("submit", "{tmp}/job.toml"),
        "has no UTC offset",
        files={"job.toml": GOOD.replace('"36h"', "2030-01-01T00:00:00")},
    ),
    Case(
        "dataset not UTF-8",
        ("submit", "{tmp}/job.toml"),
        "not UTF-8",
        files={"job.toml": GOOD, "data/reviews.csv": "text,label\n\udcff,1\n"},
    ),
    Case(
        "dataset without the text column",
        ("submit", "{tmp}/job.toml"),
        "has no column 'text'",
        files={"job.toml": GOOD, "data/reviews.csv": "body,label\nhi,1\n"},
    ),
    Case(
        "dataset empty",
        ("submit", "{tmp}/job.toml"),
        "no examples",
        files={"job.toml": GOOD, "data/reviews.csv": "text,label\n"},
    ),
    Case("spec is a folder", ("submit", "{tmp}/data"), "no such spec file"),
    Case(
        "budget not a mass", ("budget", "set", "--user", "ada", "--monthly", "lots"), "--monthly:"
    ),
    Case(
        "budget both scopes",
        ("budget", "set", "--user", "a", "--project", "p", "--monthly", "1kg"),
        "give exactly one of --user or --project",
    ),
    Case("cancel unknown job", ("cancel", "7"), "no job with id 7"),
]
for name, body, pattern in BAD_SPECS:  # the first wave's bad specs, through a subprocess too
    job = {"job.toml": body}
    CASES.append(
        Case(f"spec: {name}", ("submit", "{tmp}/job.toml"), pattern, files=job, regex=True)
    )


def _write(tmp: Path, files: dict[str, str]) -> None:
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "data" / "reviews.csv").write_text(
        "text,label\n" + "".join(f"review {i},{i % 2}\n" for i in range(20))
    )
    (tmp / "data" / "reviews.txt").write_text("x")
    for name, text in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8", "surrogateescape"))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_answers_with_one_line(case: Case, tmp_path: Path) -> None:
    db, settings = tmp_path / "gridwait.db", tmp_path / "gridwait.toml"
    settings.touch()
    _write(tmp_path, case.files)
    before = db.read_bytes() if db.exists() else None
    rows_before = count_rows(db) if before is None else None
    env = {
        **os.environ,
        "GRIDWAIT_DB": str(db),
        "GRIDWAIT_CONFIG": str(settings),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **{k: v.format(tmp=tmp_path) for k, v in case.env.items()},
    }
    args = [a.format(tmp=tmp_path) for a in case.args]
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "gridwait", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
        check=False,
        cwd=tmp_path,
    )
    took = time.monotonic() - began
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    if case.regex:
        assert re.search(case.message, lines[0]), lines[0]
    else:
        assert case.message.format(tmp=tmp_path) in lines[0], lines[0]
    assert took < LIMIT_S
    if before is not None:
        assert db.read_bytes() == before  # a damaged database is left as it was
    else:
        assert count_rows(db) == rows_before == 0  # nothing written
