"""What a run executes on: dense peak throughput and power, with sources.

Dense, not sparse, tensor peaks (the 2:4-sparsity figures on datasheets are twice as
high and no fine-tune reaches them). GPU rows are per device; CPU rows are per machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gridwait.errors import EstimateError

Precision = str  # "bf16", "fp16" or "fp32"


@dataclass(frozen=True)
class Hardware:
    name: str
    kind: str
    """gpu or cpu"""
    peak_tflops: dict[str, float]
    """Dense peak per precision, TFLOP/s (per GPU; per machine for a CPU)."""
    power_w: float
    """Board power limit (GPU) or the cores' share of TDP (CPU), W."""
    source: str
    cores: int = 0
    memory_gb: float = 0.0
    aliases: tuple[str, ...] = field(default=())

    @property
    def precision(self) -> Precision:
        """What the worker trains in: bf16 where supported, else fp16 on GPUs; fp32 on CPUs."""
        for p in ("bf16", "fp16"):
            if self.kind == "gpu" and p in self.peak_tflops:
                return p
        return "fp32"

    def peak(self, precision: Precision | None = None) -> float:
        return self.peak_tflops[precision or self.precision] * 1e12


# Dense tensor peaks in TFLOP/s (BF16 None where the GPU has none) and board power in W.
# fmt: off
_GPU_ROWS: tuple[tuple[str, float | None, float, float, float, tuple[str, ...]], ...] = (
    # name        bf16    fp16    fp32  watts  names NVML reports
    ("H100-SXM",  989.4,  989.4,  66.9, 700, ("H100 80GB HBM3", "H100-SXM", "H100 SXM")),
    ("H100-PCIe", 756.0,  756.0,  51.2, 350, ("H100 PCIe",)),
    ("H200",      989.4,  989.4,  66.9, 700, ("H200",)),
    ("A100-SXM",  312.0,  312.0,  19.5, 400, ("A100-SXM4", "A100-SXM", "A100 SXM")),
    ("A100-PCIe", 312.0,  312.0,  19.5, 300, ("A100-PCIE", "A100 PCIe", "A100 80GB PCIe")),
    ("L40S",      362.05, 362.05, 91.6, 350, ("L40S",)),
    ("L4",        121.0,  121.0,  30.3,  72, ("L4",)),
    ("A10",       125.0,  125.0,  31.2, 150, ("A10",)),
    ("V100",      None,   125.0,  15.7, 300, ("V100", "Tesla V100")),
    ("T4",        None,    65.0,   8.1,  70, ("T4", "Tesla T4")),
    ("RTX-3090",   71.0,   71.0,  35.6, 350, ("RTX 3090",)),
    ("RTX-4090",  165.2,  165.2,  82.6, 450, ("RTX 4090",)),
)
# fmt: on
_GPU_SOURCES = {
    "H100-SXM": "NVIDIA H100 Tensor Core GPU datasheet, SXM column (989.4 dense; 1979 is sparse)",
    "H100-PCIe": "NVIDIA H100 Tensor Core GPU datasheet, PCIe column",
    "H200": "NVIDIA H200 datasheet (the GH100 compute of H100 SXM)",
    "A100-SXM": "NVIDIA A100 Tensor Core GPU datasheet, SXM column",
    "A100-PCIe": "NVIDIA A100 Tensor Core GPU datasheet, 80GB PCIe column",
    "L40S": "NVIDIA L40S datasheet (733 with sparsity, halved)",
    "L4": "NVIDIA L4 datasheet (242 with sparsity, halved)",
    "A10": "NVIDIA A10 datasheet (250 with sparsity, halved)",
    "V100": "NVIDIA V100 datasheet, SXM2 column (FP16 tensor; no BF16)",
    "T4": "NVIDIA T4 datasheet (FP16 tensor; no BF16)",
    "RTX-3090": "NVIDIA Ampere GA102 whitepaper, RTX 3090 (FP16 tensor, FP32 accumulate)",
    "RTX-4090": "NVIDIA Ada Lovelace whitepaper, RTX 4090 (FP16/BF16 tensor, FP32 accumulate)",
}


def _gpu(row: tuple[str, float | None, float, float, float, tuple[str, ...]]) -> Hardware:
    name, bf16, fp16, fp32, watts, aliases = row
    peaks = {"fp16": fp16, "fp32": fp32} | ({"bf16": bf16} if bf16 is not None else {})
    return Hardware(name, "gpu", peaks, watts, _GPU_SOURCES[name], aliases=aliases)


GPUS = {row[0]: _gpu(row) for row in _GPU_ROWS}

# FLOPs per cycle per core in fp32: 2 FMA units x vector lanes x 2 (an FMA is two FLOPs);
# Intel 64 and IA-32 Architectures Optimization Reference Manual, table of peak throughput.
FLOPS_PER_CYCLE = {"avx512": 64, "avx2": 32, "sse": 8}
CPU_WATTS_PER_CORE = 10.0


def cpu(
    cores: int,
    ghz: float = 2.5,
    isa: str = "avx2",
    watts_per_core: float = CPU_WATTS_PER_CORE,
    name: str | None = None,
) -> Hardware:
    """A CPU machine: peak = cores x GHz x FLOPs per cycle (fp32)."""
    peak = cores * ghz * FLOPS_PER_CYCLE[isa] / 1000
    return Hardware(
        name or f"cpu-{cores}c",
        "cpu",
        {"fp32": peak},
        cores * watts_per_core,
        f"{cores} cores x {ghz:g} GHz x {FLOPS_PER_CYCLE[isa]} fp32 FLOPs/cycle ({isa}); "
        f"{watts_per_core:g} W per busy core",
        cores=cores,
    )


CPUS = {h.name: h for h in (cpu(4), cpu(8), cpu(16), cpu(32), cpu(64))}
TABLE: dict[str, Hardware] = {**GPUS, **CPUS}


def lookup(name: str) -> Hardware:
    """A table row by name or alias (case-insensitive), or a NVML device name containing one."""
    wanted = name.lower()
    for row in TABLE.values():
        if wanted == row.name.lower() or wanted in (a.lower() for a in row.aliases):
            return row
    for row in GPUS.values():  # NVML names such as "NVIDIA H100 80GB HBM3"
        if any(a.lower() in wanted for a in sorted(row.aliases, key=len, reverse=True)):
            return row
    raise EstimateError(f"unknown hardware {name!r}; known: {', '.join(TABLE)}")
