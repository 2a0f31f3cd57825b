"""`[[targets]]` from the command line: `gridwait plan` says where and why, and bad
target settings are one clear line with nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import Cli, count_rows

TWO = """
[grid]
provider = "profile"
zone = "DE"

[[targets]]
name = "box"
zone = "DE"
gpus = 1

[[targets]]
name = "cluster"
zone = "FR"
gpus = 2
"""


def configure(text: str) -> None:
    Path(os.environ["GRIDWAIT_CONFIG"]).write_text(text)


def test_plan_shows_the_target_zone_and_why(cli: Cli, env: Path, spec_file: Path) -> None:
    configure(TWO)
    assert cli("submit", spec_file).code == 0
    result = cli("plan", "--json")
    assert result.code == 0, result.err
    [row] = json.loads(result.out)["jobs"]
    assert (row["target"], row["zone"]) == ("cluster", "FR")
    assert (
        row["where"].startswith("box (DE) ") and " mg forecast: cluster (FR) saves " in row["where"]
    )
    table = cli("plan")
    assert "cluster (FR): box (DE) " in " ".join(table.out.split())


def test_a_job_may_ask_for_the_gpus_of_its_largest_target(
    cli: Cli, env: Path, spec_file: Path
) -> None:
    configure(TWO)  # [scheduler] gpus is 1; the box lends 1, the cluster 2
    body = spec_file.read_text()
    spec_file.write_text("gpus = 2\n" + body)
    assert cli("submit", spec_file).code == 0
    [row] = json.loads(cli("plan", "--json").out)["jobs"]
    assert row["target"] == "cluster"
    spec_file.write_text("gpus = 3\n" + body)
    result = cli("submit", spec_file)
    assert result.code != 0
    assert result.err.strip() == (
        "error: gpus: the lab lends gridwait 2 GPU(s) on any one target; this job asks for 3"
    )
    assert count_rows(env) == 1


def test_one_target_plans_as_before(cli: Cli, env: Path, spec_file: Path) -> None:
    cli("submit", spec_file)
    [row] = json.loads(cli("plan", "--json").out)["jobs"]
    assert row["where"] is None and row["target"] == "local"


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            '[[targets]]\nname = "a"\nzone = "DE"\ngpus = 1\n'
            '[[targets]]\nname = "a"\nzone = "FR"\ngpus = 1\n',
            "targets: target name 'a' is used twice",
        ),
        (
            '[[targets]]\nname = "a"\nzone = "DE"\ngpus = 0\n',
            "targets.0.gpus: input should be greater than or equal to 1 (got 0)",
        ),
        (
            '[[targets]]\nname = "a"\nzone = "DE"\ngpus = 1\n'
            '[[targets]]\nname = "b"\nzone = "MARS"\ngpus = 1\n',
            "targets.b.zone: the profile provider has no zone 'MARS'",
        ),
        (
            '[[targets]]\nname = "a"\nzone = "DE"\ngpus = 1\nkind = "k8s"\n',
            "targets.0.kind: input should be 'local' or 'slurm'",
        ),
        (
            '[[targets]]\nname = "a"\nzone = "DE"\ngpus = 1\nkind = "slurm"\n'
            '[[targets]]\nname = "b"\nzone = "FR"\ngpus = 1\nkind = "slurm"\n',
            "targets: targets 'a', 'b' are each of kind slurm, but [slurm] is one cluster",
        ),
    ],
)
def test_bad_targets_are_one_line_and_write_nothing(
    cli: Cli, env: Path, spec_file: Path, targets: str, message: str
) -> None:
    configure('[grid]\nprovider = "profile"\n' + targets)
    result = cli("plan")
    assert result.code != 0
    [line] = result.err.strip().splitlines()
    assert line.startswith("error:") and message in line, line
    assert "Traceback" not in result.err
    assert count_rows(env) == 0


def test_run_with_a_slurm_target_and_no_cluster_is_one_line(cli: Cli, env: Path) -> None:
    configure(
        TWO.replace('name = "cluster"', 'name = "cluster"\nkind = "slurm"')
        + '\n[api]\nenabled = false\n[slurm]\nconf = "/nonexistent/slurm.conf"\ntimeout = 2\n'
    )
    result = cli("run", "--until-idle", "--timeout", "10")
    assert result.code != 0
    # the service's own log lines come first; the error is one line, naming sinfo
    [line] = [x for x in result.err.strip().splitlines() if x.startswith("error:")]
    assert "sinfo" in line, line
    assert "Traceback" not in result.err
