"""The dependency rules of DESIGN.md, checked on the source: a rule that is only written
down drifts."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gridwait"
MAX_LINES = 500


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, at any depth (function-local too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _offending(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in _modules(folder):
        for line, name in _imports(path):
            if name in forbidden or name.startswith(tuple(f"{f}." for f in forbidden)):
                found.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    return found


def test_workers_never_import_the_store() -> None:
    """A worker reports through a RunReporter, so it can run where the database is not."""
    assert _offending("workers", ("gridwait.store",)) == []


def test_estimators_import_no_grid_and_no_clock() -> None:
    assert _offending("estimators", ("gridwait.grid", "gridwait.clock")) == []


def test_estimators_read_no_clock() -> None:
    calls = ("now", "utcnow", "time", "monotonic", "perf_counter", "today")
    found = []
    for path in _modules("estimators"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in calls
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("datetime", "time", "date")
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_estimators_detect_no_hardware() -> None:
    """Detection (NVML, /proc/cpuinfo) is the edges' job; estimators take the hardware."""
    assert _offending("estimators", ("pynvml", "gridwait.workers")) == []
    for path in _modules("estimators"):
        assert "/proc/cpuinfo" not in path.read_text(), path


def test_the_cli_reaches_the_store_only_through_the_use_cases() -> None:
    """cli/ parses and renders; transactions for a user's action are opened in app/."""
    allowed = {"cli/context.py"}  # the edge's plumbing: a type for `AppContext.store()`
    found = [
        hit for hit in _offending("cli", ("gridwait.store",)) if hit.split(":")[0] not in allowed
    ]
    assert found == []


def test_a_worker_process_loads_no_store_module() -> None:
    """Importing the worker's code (runner, sampler, meters, fine-tune) pulls in no part
    of gridwait.store, directly or through another module."""
    code = (
        "import sys, gridwait.workers.runner, gridwait.workers.reporter;"
        "print(sorted(m for m in sys.modules if m.startswith('gridwait.store')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"


def test_listing_commands_import_no_heavy_library() -> None:
    """`gridwait queue` and `history` answer fast: their use cases load neither the ORM
    nor numpy, torch or transformers (the read path is the standard library's sqlite3)."""
    code = (
        "import sys, gridwait.cli, gridwait.app.jobs, gridwait.app.history;"
        "heavy = ('sqlalchemy', 'sqlmodel', 'numpy', 'torch', 'transformers');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
