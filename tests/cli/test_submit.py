"""Submitting specs through the CLI: good ones are queued, bad ones leave no trace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Cli, count_rows, write_spec

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
name = "reviews"
model = "builtin:minilm"
deadline = "36h"
[dataset]
path = "data/reviews.csv"
"""

COMMAND = 'command = ["python", "train.py"]\n'
SCRIPT = f"""kind = "script"
name = "own-script"
deadline = "36h"
duration = "2h30m"
{COMMAND}"""
GOOD_DATASET = 'model = "builtin:minilm"\n[dataset]\npath = "data/reviews.csv"\n'

# (case, spec body, a regex the one-line error must match: it names the field)
BAD_SPECS = [
    ("unknown top-level key", "epoch = 3\n" + GOOD, "epoch: unknown key"),
    ("epochs as a string", 'epochs = "3"\n' + GOOD, "epochs: input should be a valid integer"),
    ("zero batch size", "batch_size = 0\n" + GOOD, "batch_size: input should be greater than 0"),
    ("negative gpus", "gpus = -1\n" + GOOD, "gpus: input should be greater than or equal to 0"),
    (
        "learning rate text",
        'learning_rate = "fast"\n' + GOOD,
        "learning_rate: input should be a valid number",
    ),
    ("unknown task", 'task = "translation"\n' + GOOD, "task: input should be"),
    (
        "interruptible as text",
        'interruptible = "yes"\n' + GOOD,
        "interruptible: input should be a valid boolean",
    ),
    ("missing deadline", GOOD.replace('deadline = "36h"\n', ""), "deadline: required"),
    ("missing name", GOOD.replace('name = "reviews"\n', ""), "name: required"),
    (
        "deadline in the past",
        GOOD.replace('"36h"', '"2020-01-01T00:00Z"'),
        r"deadline: 2020-01-01T00:00:00\+00:00 is in the past",
    ),
    (
        "deadline without offset",
        GOOD.replace('"36h"', '"2030-01-01T00:00"'),
        "deadline: '2030-01-01T00:00' has no UTC offset",
    ),
    (
        "deadline not a time",
        GOOD.replace('"36h"', '"tomorrow"'),
        "deadline: 'tomorrow' is neither a duration such as 36h nor an ISO 8601 time",
    ),
    (
        "deadline before earliest start",
        'earliest_start = "2099-01-01T00:00Z"\n' + GOOD,
        "deadline: .* is not after earliest_start",
    ),
    (
        "earliest start without offset",
        'earliest_start = "2099-01-01T00:00"\n' + GOOD,
        "earliest_start: .* has no UTC offset",
    ),
    (
        "missing dataset file",
        GOOD.replace("data/reviews.csv", "data/absent.csv"),
        "dataset.path: .*absent.csv does not exist",
    ),
    (
        "dataset not csv/jsonl",
        GOOD.replace("data/reviews.csv", "data/reviews.txt"),
        "dataset.path: reviews.txt is neither .csv nor .jsonl",
    ),
    ("dataset path and hub", GOOD + 'hub = "imdb"\n', "dataset: give exactly one of path"),
    ("unknown dataset key", GOOD + 'colum = "x"\n', "dataset.colum: unknown key"),
    ("dataset limit zero", GOOD + "limit = 0\n", "dataset.limit: input should be greater than 0"),
    (
        "unknown builtin model",
        GOOD.replace("builtin:minilm", "builtin:gpt9"),
        "model: unknown builtin model .builtin:gpt9. \\(known: builtin:minilm\\)$",
    ),
    (
        "missing local model",
        GOOD.replace("builtin:minilm", "./models/none"),
        "model: local path .* does not exist",
    ),
    ("not TOML", "name = \n", "not valid TOML"),
    (
        "dataset missing",
        'name = "x"\nmodel = "builtin:minilm"\ndeadline = "1h"\n',
        "dataset: required",
    ),
    # script jobs (issue 17)
    ("script without command", SCRIPT.replace(COMMAND, ""), "command: a script job needs one"),
    (
        "script command not found",
        SCRIPT.replace(COMMAND, 'command = ["no-such-program-gw"]\n'),
        "command: 'no-such-program-gw' is not a program found from",
    ),
    (
        "script command path not found",
        SCRIPT.replace(COMMAND, 'command = ["./absent.sh"]\n'),
        "command: './absent.sh' is not a program found from",
    ),
    (
        "script with duration and dataset",
        'duration = "1h"\n' + SCRIPT.replace('duration = "2h30m"\n', "") + GOOD_DATASET,
        "duration: give either a declared duration or model \\+ dataset",
    ),
    (
        "script with neither duration nor dataset",
        SCRIPT.replace('duration = "2h30m"\n', ""),
        "model: a script job needs model \\+ dataset .* or a declared duration",
    ),
    (
        "shell with an argv list",
        "shell = true\n" + SCRIPT,
        "shell: with shell = true the command is one string, not an argv list",
    ),
    (
        "command string without shell",
        SCRIPT.replace(COMMAND, 'command = "python train.py"\n'),
        "command: an argv list such as",
    ),
    ("script duration not a duration", SCRIPT.replace('"2h30m"', '"soon"'), "duration: 'soon'"),
    (
        "power without duration",
        "power_w = 300\n" + SCRIPT.replace('duration = "2h30m"\n', "") + GOOD_DATASET,
        "power_w: only with a declared duration",
    ),
    (
        "fine-tune with a command",
        COMMAND + GOOD,
        'command: only a script job \\(kind = "script"\\)',
    ),
    ("script workdir missing", 'workdir = "nope"\n' + SCRIPT, "workdir: .*nope is not a folder"),
    ("unknown kind", 'kind = "notebook"\n' + GOOD, "kind: input should be"),
    ("lora table on a full fine-tune", GOOD + "[lora]\nr = 4\n", 'lora: only with method = "lora"'),
    (
        "lora on modules the model lacks",
        'method = "lora"\n' + GOOD + '[lora]\ntarget_modules = ["nope"]\n',
        "lora.target_modules: PEFT cannot apply LoRA to builtin:minilm",
    ),
    ("lora rank zero", 'method = "lora"\n' + GOOD + "[lora]\nr = 0\n", "lora.r: input should be"),
    ("method on a script", 'method = "lora"\n' + SCRIPT, "method: only the built-in fine-tune"),
    ("report_to not a name", 'report_to = ["W&B"]\n' + GOOD, "report_to.0: string should match"),
    (
        "eval set missing",
        GOOD + '[eval]\npath = "data/held-out.csv"\n',
        "eval.path: .*held-out.csv does not exist",
    ),
    ("eval on a script", SCRIPT + '[eval]\npath = "x.csv"\n', "eval: only the built-in fine-tune"),
    (
        "no batches per step",
        "gradient_accumulation_steps = 0\n" + GOOD,
        "gradient_accumulation_steps: input should be greater than 0",
    ),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD_SPECS, ids=[c[0] for c in BAD_SPECS])
def test_bad_spec_is_refused_with_one_line(
    cli: Cli, env: Path, tmp_path: Path, dataset: Path, case: str, body: str, message: str
) -> None:
    (tmp_path / "data" / "reviews.txt").write_text("x")
    spec = write_spec(tmp_path, body)
    result = cli("submit", spec)
    assert result.code == 2, case
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.err
    assert result.out == ""
    assert count_rows(env) == 0


def test_bad_deadline_override(cli: Cli, env: Path, spec_file: Path) -> None:
    result = cli("submit", spec_file, "--deadline", "yesterday")
    assert result.code == 2 and "deadline:" in result.err
    assert count_rows(env) == 0


def test_missing_spec_file(cli: Cli, env: Path, tmp_path: Path) -> None:
    result = cli("submit", tmp_path / "nope.toml")
    assert result.code == 2 and "no such spec file" in result.err


def test_submit_prints_id_and_queues(cli: Cli, env: Path, spec_file: Path) -> None:
    first = cli("submit", spec_file)
    second = cli("submit", spec_file, "--deadline", "2h")
    assert first.code == second.code == 0
    assert (first.out.strip(), second.out.strip()) == ("1", "2")
    rows = json.loads(cli("queue", "--json").out)
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["state"] == "queued" and rows[0]["owner"] == "alice"
    assert set(rows[0]) >= {
        "id",
        "name",
        "owner",
        "project",
        "state",
        "deadline",
        "planned_start",
        "late",
    }


def test_show_and_cancel(cli: Cli, env: Path, spec_file: Path) -> None:
    cli("submit", spec_file)
    shown = json.loads(cli("show", "1", "--json").out)
    assert shown["state"] == "queued" and shown["events"][0]["reason"] == "submitted"
    assert cli("cancel", "1").code == 0
    again = cli("cancel", "1")
    assert again.code == 1 and again.err.startswith("error: job 1 is already cancelled")
    assert json.loads(cli("queue", "--json").out) == []
    everything = json.loads(cli("queue", "--all", "--json").out)
    assert everything[0]["state"] == "cancelled"
    events = json.loads(cli("show", "1", "--json").out)["events"]
    assert [(e["from_state"], e["to_state"]) for e in events] == [
        (None, "queued"),
        ("queued", "cancelled"),
    ]
    assert "cancelled" in cli("show", "1").out


def test_unknown_job(cli: Cli, env: Path) -> None:
    result = cli("show", "42")
    assert result.code == 1 and result.err.strip() == "error: no job with id 42"


def test_debug_shows_traceback(cli: Cli, env: Path) -> None:
    result = cli("--debug", "show", "42")
    assert result.code == 1 and "Traceback" in result.err


def test_example_job_spec_is_accepted(cli: Cli, env: Path) -> None:
    result = cli("submit", ROOT / "config" / "job.example.toml")
    assert result.code == 0, result.err
    assert count_rows(env) == 1


def test_queue_filters(cli: Cli, env: Path, tmp_path: Path, dataset: Path) -> None:
    for owner, project in [("alice", "nlp"), ("bob", "nlp"), ("bob", "vision")]:
        cli("submit", write_spec(tmp_path, f'owner = "{owner}"\nproject = "{project}"\n' + GOOD))
    bob = json.loads(cli("queue", "--user", "bob", "--json").out)
    assert {r["project"] for r in bob} == {"nlp", "vision"}
    nlp = json.loads(cli("queue", "--project", "nlp", "--json").out)
    assert {r["owner"] for r in nlp} == {"alice", "bob"}
    table = cli("queue")
    assert "alice" in table.out and "vision" in table.out


def test_init_writes_settings_and_database(cli: Cli, env: Path, tmp_path: Path) -> None:
    result = cli("init")
    assert result.code == 0
    assert (tmp_path / "gridwait.toml").exists() and env.exists()
    again = cli("init")
    assert "kept" in again.err
