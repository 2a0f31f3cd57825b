"""A demo-like lab served by a real uvicorn on 127.0.0.1 over a real SQLite file: the
demo's zone (its built-in typical day) and its four jobs, submitted now, so the plan has
jobs in the coming green hours; admin `root`, members `alice`, `bob` and `carol`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from gridwait.api.server import ApiServer
from gridwait.app.actor import Actor, Role, host_admin
from gridwait.app.deps import Deps
from gridwait.app.jobs import submit_remote
from gridwait.app.users import add_user, issue_token
from gridwait.cli.demo import JOBS, START_UTC_HOUR, ZONE
from gridwait.clock import ManualClock, SystemClock
from gridwait.config import Settings
from gridwait.spec import JobSpec
from tests.conftest import DEMO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PEOPLE = {
    "root": Role.ADMIN,
    "alice": Role.MEMBER,
    "bob": Role.MEMBER,
    "carol": Role.MEMBER,
}


@dataclass
class DemoLab:
    url: str
    deps: Deps
    tokens: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    """demo job name -> id"""

    def submit(self, owner: str, name: str, examples: int = 32, deadline: str = "18h") -> int:
        spec = demo_spec(name, owner, "reviews", examples, deadline, batch_size=16, max_length=48)
        return submit_remote(self.deps, Actor(owner, PEOPLE[owner]), spec).job.id


def demo_spec(
    name: str, owner: str, project: str, examples: int, deadline: str, **extra: object
) -> JobSpec:
    """A fine-tune of MiniLM on the first `examples` of the demo's data set, as the demo
    submits them; `extra`: further spec fields."""
    spec = {
        "name": name,
        "model": "builtin:minilm",
        "owner": owner,
        "project": project,
        "deadline": deadline,
        "dataset": {"path": str(DEMO), "limit": examples},
        **extra,
    }
    return JobSpec.model_validate(spec)


def demo_settings(where: Path) -> Settings:
    """The demo's settings (gridwait/cli/demo.py), on a database in `where`."""
    return Settings(
        db=where / "gridwait.db",
        grid={"provider": "profile", "zone": ZONE},
        scheduler={"gpus": 0, "cpu_slots": 1, "poll_minutes": 30},
    )


def demo_start() -> datetime:
    """Midnight in California, as in the demo, tomorrow: the clock stands still (plans
    the page and the API make agree to the second) but ahead of the browser's real time,
    which would drop a cookie whose expiry it thinks past."""
    today = SystemClock().now().replace(hour=START_UTC_HOUR, minute=0, second=0, microsecond=0)
    return today + timedelta(days=1)


@pytest.fixture(scope="module")
def demo_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLab]:
    deps = Deps(demo_settings(tmp_path_factory.mktemp("demo")), ManualClock(demo_start()))
    host = host_admin()
    for name, role in PEOPLE.items():
        add_user(deps, host, name, role)
    server = ApiServer(deps, "127.0.0.1", 0)
    server.start()
    lab = DemoLab(server.url, deps)
    for name in PEOPLE:
        lab.tokens[name] = issue_token(deps, host, name, "test").token
    for name, owner, project, examples, deadline, resumable in JOBS:
        spec = demo_spec(
            name,
            owner,
            project,
            examples,
            deadline,
            interruptible=resumable,
            batch_size=16,
            max_length=48,
        )
        done = submit_remote(deps, host, spec)
        lab.jobs[name] = done.job.id
    try:
        yield lab
    finally:
        server.stop()
        deps.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module (Debian's, driven by Playwright)."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (make chromium installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            yield chromium
        finally:
            chromium.close()
