"""What this host has: its CPU (from /proc/cpuinfo) and its first NVIDIA GPU (via NVML).

Detection happens at the edges (the CLI and API on the scheduler host, the worker on the
machine that runs the job); the estimators take the resulting `Hardware` as an argument.
"""

from __future__ import annotations

import re
from pathlib import Path

from gridwait.errors import EstimateError
from gridwait.estimators.hardware import CPU_WATTS_PER_CORE, GPUS, Hardware, cpu, lookup


def detect_cpu(
    cpuinfo: str | None = None, cores: int | None = None, watts_per_core: float = CPU_WATTS_PER_CORE
) -> Hardware:
    """This machine's CPU from /proc/cpuinfo: model name, clock, vector ISA, core count."""
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
    flag_set = set(flags.group(1).split()) if flags else set()
    isa = "avx512" if "avx512f" in flag_set else "avx2" if {"avx2", "fma"} <= flag_set else "sse"
    ghz_match = re.search(r"@\s*([\d.]+)\s*GHz", model.group(1)) if model else None
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.MULTILINE)
    ghz = float(ghz_match.group(1)) if ghz_match else float(mhz.group(1)) / 1000 if mhz else 2.5
    count = cores or text.count("processor\t:") or text.count("processor :") or 1
    name = f"cpu:{model.group(1).strip() if model else 'unknown'} x{count}"
    return cpu(count, ghz, isa, watts_per_core, name=name)


def detect_gpu() -> Hardware | None:
    """The first NVIDIA GPU's table row via NVML, or None without NVML or GPUs."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        if pynvml.nvmlDeviceGetCount() == 0:
            return None
        name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(0))
        return lookup(name.decode() if isinstance(name, bytes) else name)
    except (pynvml.NVMLError, EstimateError):
        return None
    finally:
        pynvml.nvmlShutdown()


def hardware_for(
    gpus: int, override: str | None = None, watts_per_core: float = CPU_WATTS_PER_CORE
) -> tuple[Hardware, str | None]:
    """What a job with `gpus` GPUs runs on here, and a note when it had to be assumed."""
    if override:
        row = lookup(override)
        if gpus and row.kind != "gpu":
            raise EstimateError(f"hardware {override!r} is not a GPU but the job needs {gpus}")
        if not gpus and row.kind == "gpu":
            return detect_cpu(watts_per_core=watts_per_core), None
        return row, None
    if gpus == 0:
        return detect_cpu(watts_per_core=watts_per_core), None
    found = detect_gpu()
    if found is not None:
        return found, None
    return GPUS["A100-SXM"], "no GPU detected here: assumed A100-SXM (set [energy] hardware)"


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
