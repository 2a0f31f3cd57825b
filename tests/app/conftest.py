"""A lab on a real SQLite file: deps on a manual clock, and two members and an admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gridwait.app.actor import Actor, Role
from gridwait.app.deps import Deps
from gridwait.clock import ManualClock
from gridwait.config import Settings
from gridwait.spec import JobSpec, Submission, resolve
from tests.conftest import T0

ADA = Actor("ada", Role.MEMBER)
BOB = Actor("bob", Role.MEMBER)
ADMIN = Actor("root", Role.ADMIN)


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    settings = Settings(db=tmp_path / "lab.db", grid={"provider": "profile", "zone": "DE"})
    made = Deps(settings, ManualClock(T0))
    yield made
    made.close()


def submission(dataset: Path, **fields: object) -> Submission:
    data = {
        "name": "reviews",
        "model": "builtin:minilm",
        "batch_size": 8,
        "max_length": 32,
        "deadline": "36h",
        "dataset": {"path": str(dataset)},
        **fields,
    }
    return resolve(JobSpec.model_validate(data), T0, dataset.parent)
