"""The wheels a bare GPU machine needs to run the GPU check, and how they get there.

    python -m benchmarks.gpu_recipe download [--dest dist/gpu-wheels] [--python-version 3.12]

The GPU machine has torch, transformers, accelerate, peft, nvidia-ml-py and psutil (and
their own dependencies: numpy, tokenizers, safetensors, huggingface-hub, ...) but no
network and none of gridwait's other dependencies. Along the check's import path
(gridwait.app.runs -> config, spec, store; the estimators; the worker) gridwait needs
exactly the `WHEELS` below beyond those; apscheduler, requests, typer and rich are not
imported on that path, and numpy comes with transformers. Each is pinned to the version
installed here (the one the tests ran with), downloaded for CPython `--python-version`
on manylinux x86_64 without dependencies, then checked to be closed: pip resolves every
requirement of the set from the folder alone, for that Python and platform.

On the GPU machine (benchmarks/README.md):
    python3 -m pip install --no-index --no-deps --upgrade --target DEPS WHEELS/*.whl
and run the check with PYTHONPATH=<checkout>:DEPS.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

WHEELS = (
    "sqlmodel",
    "SQLAlchemy",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "python-dotenv",
    "annotated-types",
    "typing-inspection",
    "typing-extensions",
    "platformdirs",
)
"""gridwait's imports on the check's path, not brought by the GPU machine's stack.
typing-extensions is there too (torch needs it), but pydantic may need a newer one."""
ROOTS = ("sqlmodel", "pydantic-settings", "platformdirs")
"""What gridwait itself requires of `WHEELS`; the rest are their requirements."""
ON_GPU_MACHINE = ("torch", "transformers", "accelerate", "peft", "nvidia-ml-py", "psutil")
"""Installed there, with their own requirements."""
PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
PYTHON = "3.12"
DEST = Path("dist/gpu-wheels")
LIMIT_BYTES = 40 * 2**20


def pins() -> list[str]:
    """Each wheel at the version installed here."""
    return [f"{name}=={metadata.version(name)}" for name in WHEELS]


def _target_flags(python_version: str) -> list[str]:
    platforms = [flag for p in PLATFORMS for flag in ("--platform", p)]
    return [
        *platforms,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ]


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True, capture_output=True)


def download(dest: Path, python_version: str = PYTHON) -> list[Path]:
    """Download the pinned wheels for the GPU machine into `dest` (needs the index)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = pins()
    _pip(
        "download", "--quiet", "--no-deps", *_target_flags(python_version), "-d", str(dest), *wanted
    )
    return wheels_in(dest, wanted)


def _key(text: str) -> str:
    """name==version or a wheel's file name as one normalised name-version key."""
    name, version = text.split("==") if "==" in text else text.split("-")[:2]
    return f"{name.lower().replace('_', '-')}-{version}"


def wheels_in(folder: Path, wanted: list[str] | None = None) -> list[Path]:
    """The wheels in `folder` (only the pinned ones when `wanted` is given: an older
    download left beside them would otherwise be installed too)."""
    keys = {_key(w) for w in wanted} if wanted is not None else None
    return sorted(w for w in folder.glob("*.whl") if keys is None or _key(w.name) in keys)


def install(wheels: list[Path], target: Path, python_version: str | None = None) -> None:
    """Install `wheels` into `target` as the GPU machine does: no index, no dependency
    resolution. With `python_version` (a Python other than this one) as a cross-install."""
    cross = _target_flags(python_version) if python_version else []
    _pip(
        "install",
        "--quiet",
        "--no-index",
        "--no-deps",
        "--upgrade",
        *cross,
        "--target",
        str(target),
        *map(str, wheels),
    )


def check_closed(folder: Path, python_version: str = PYTHON) -> None:
    """Resolve gridwait's requirements (`ROOTS`) from `folder` alone, for the GPU
    machine's Python and platform; CalledProcessError names what is missing."""
    with tempfile.TemporaryDirectory() as tmp:
        _pip(
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            str(folder),
            *_target_flags(python_version),
            "--target",
            tmp,
            *ROOTS,
        )


def total_bytes(wheels: list[Path]) -> int:
    return sum(w.stat().st_size for w in wheels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--dest", type=Path, default=DEST)
    parser.add_argument("--python-version", default=PYTHON)
    args = parser.parse_args()
    wheels = download(args.dest, args.python_version)
    check_closed(args.dest, args.python_version)
    for wheel in wheels:
        print(f"{wheel.stat().st_size / 2**20:8.2f} MiB  {wheel.name}")
    total = total_bytes(wheels)
    print(f"{total / 2**20:8.2f} MiB  total, {len(wheels)} wheels in {args.dest}")
    if total > LIMIT_BYTES:
        sys.exit(f"over the {LIMIT_BYTES // 2**20} MiB budget")


if __name__ == "__main__":
    main()
