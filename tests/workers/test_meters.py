"""Energy meters: one contract for all; NVML with the library mocked (autospec), RAPL
on a fake powercap tree with a wrap-around, the estimates with injected readings."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pynvml
import pytest

from gridwait.clock import ManualClock
from gridwait.errors import MeterError
from gridwait.workers.meters import (
    CpuTimeMeter,
    EnergyMeter,
    FakeMeter,
    NvmlCounterMeter,
    NvmlPowerMeter,
    RamMeter,
    RaplMeter,
    RunMeter,
    Unavailable,
    build_run_meter,
    cpu_meter,
    nvml_meter,
    visible_gpu_indices,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fake_nvml(
    energy_mj: list[list[int]] | None = None, power_mw: int = 250_000, counter: bool = True
) -> mock.MagicMock:
    nvml = mock.create_autospec(pynvml, instance=False)
    nvml.NVMLError = pynvml.NVMLError
    nvml.NVMLError_NotSupported = pynvml.NVMLError_NotSupported
    nvml.nvmlDeviceGetCount.return_value = 4
    nvml.nvmlDeviceGetHandleByIndex.side_effect = lambda i: f"handle-{i}"
    nvml.nvmlDeviceGetHandleByUUID.side_effect = lambda u: f"handle-{u}"
    readings = iter(energy_mj or [])
    if counter:
        state: dict[str, list[int]] = {}

        def total(handle: str) -> int:
            if handle not in state or not state[handle]:
                state[handle] = next(readings, [0])
            return state[handle].pop(0)

        nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = total
    else:
        nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = pynvml.NVMLError_NotSupported
    nvml.nvmlDeviceGetPowerUsage.return_value = power_mw
    return nvml


def test_nvml_counter_measures_exactly_the_visible_gpus() -> None:
    # device 1: 10 J then 25 J; device 3: 5 J then 20 J (mJ since driver load)
    nvml = fake_nvml([[10_000, 10_000, 25_000], [5_000, 5_000, 20_000]])
    meter = nvml_meter(ManualClock(T0), {"CUDA_VISIBLE_DEVICES": "1,3"}, nvml)
    assert isinstance(meter, NvmlCounterMeter)
    meter.start()
    joules, method = meter.read()
    assert method == "nvml_counter" and joules == pytest.approx(15.0 + 15.0)
    assert [c.args for c in nvml.nvmlDeviceGetHandleByIndex.call_args_list] == [(1,), (3,)]


def test_nvml_uuids_are_mapped() -> None:
    nvml = fake_nvml([[1, 1, 1]])
    meter = nvml_meter(ManualClock(T0), {"CUDA_VISIBLE_DEVICES": "GPU-8f2c"}, nvml)
    assert isinstance(meter, NvmlCounterMeter)
    nvml.nvmlDeviceGetHandleByUUID.assert_called_once_with("GPU-8f2c")


def test_nvml_falls_back_to_power_integration() -> None:
    nvml = fake_nvml(counter=False, power_mw=200_000)
    clock = ManualClock(T0)
    meter = nvml_meter(clock, {"CUDA_VISIBLE_DEVICES": "0"}, nvml)
    assert isinstance(meter, NvmlPowerMeter)
    meter.period = 3600.0  # no background polls during the test: we step the clock
    meter.start()
    clock.advance(10)
    joules, method = meter.read()
    meter.close()
    assert method == "nvml_power" and joules == pytest.approx(200.0 * 10)


def test_nvml_missing_says_why() -> None:
    nvml = fake_nvml()
    nvml.nvmlInit.side_effect = pynvml.NVMLError_LibraryNotFound
    meter = nvml_meter(ManualClock(T0), {}, nvml)
    joules, method = meter.read()
    assert joules is None and method.startswith("unavailable: NVML")


def test_on_this_machine_nvml_is_unavailable_not_zero() -> None:
    meter = nvml_meter(ManualClock(T0), {"CUDA_VISIBLE_DEVICES": "0"})
    joules, method = meter.read()
    if isinstance(meter, Unavailable):
        assert joules is None and "unavailable" in method
    else:  # a machine with a GPU
        assert joules is not None


def powercap(root: Path, packages: dict[int, tuple[int, int]]) -> Path:
    """packages: index -> (energy_uj, max_energy_range_uj); plus a core sub-domain."""
    for i, (energy, max_range) in packages.items():
        domain = root / f"intel-rapl:{i}"
        domain.mkdir(parents=True)
        (domain / "name").write_text(f"package-{i}\n")
        (domain / "energy_uj").write_text(f"{energy}\n")
        (domain / "max_energy_range_uj").write_text(f"{max_range}\n")
        core = root / f"intel-rapl:{i}:0"
        core.mkdir()
        (core / "name").write_text("core\n")
        (core / "energy_uj").write_text("0\n")
    return root


def test_rapl_counts_packages_handles_wraparound_and_attributes_by_cpu_share(
    tmp_path: Path,
) -> None:
    root = powercap(
        tmp_path / "powercap",
        {0: (262_000_000_000 - 2_000_000, 262_143_328_850), 1: (5_000_000, 262_143_328_850)},
    )
    cpu = iter([0.0, 30.0])  # the job's CPU seconds
    system = iter([0.0, 60.0])  # all CPU seconds: the job used half
    meter = RaplMeter(
        os.getpid(), root, cpu_seconds=lambda pid: next(cpu), system_seconds=lambda: next(system)
    )
    assert [d.name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]
    meter.start()
    (root / "intel-rapl:0" / "energy_uj").write_text(
        "8000000\n"
    )  # wrapped: +2 J to the top, +8 J after
    (root / "intel-rapl:1" / "energy_uj").write_text("15000000\n")  # +10 J
    joules, method = meter.read()
    wrapped = (262_143_328_850 - (262_000_000_000 - 2_000_000) + 8_000_000) / 1e6
    assert method == "rapl" and joules == pytest.approx((wrapped + 10.0) * 0.5)


def test_rapl_without_permission_falls_back_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = powercap(tmp_path / "powercap", {0: (1, 100)})
    locked = root / "intel-rapl:0" / "energy_uj"
    real_read = Path.read_text

    def read(path: Path, *args: object, **kwargs: object) -> str:
        if path == locked:  # as since Linux 5.10 for non-root users (CVE-2020-8694)
            raise PermissionError(13, "Permission denied", str(path))
        return real_read(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read)
    meter = cpu_meter(os.getpid(), 10.0, root)
    assert isinstance(meter, CpuTimeMeter) and "not readable" in meter.method


def test_no_rapl_here_means_an_estimate(tmp_path: Path) -> None:
    meter = cpu_meter(os.getpid(), 10.0, tmp_path / "absent")
    assert isinstance(meter, CpuTimeMeter) and meter.method == "estimated"
    with pytest.raises(MeterError, match="no RAPL package domains"):
        RaplMeter(os.getpid(), tmp_path / "absent")


def test_cpu_time_and_ram_estimates() -> None:
    cpu = iter([100.0, 112.5])
    meter = CpuTimeMeter(1, watts_per_core=8.0, cpu_seconds=lambda pid: next(cpu))
    meter.start()
    assert meter.read() == (pytest.approx(12.5 * 8.0), "estimated")
    clock = ManualClock(T0)
    rss = iter([2_000_000_000, 4_000_000_000])
    ram = RamMeter(1, watts_per_gb=0.5, clock=clock, rss=lambda pid: next(rss))
    ram.start()
    clock.advance(100)
    assert ram.read() == (pytest.approx(100 * 3.0 * 0.5), "estimated")  # mean of 2 and 4 GB


def _meters(tmp_path: Path) -> dict[str, Callable[[ManualClock], EnergyMeter]]:
    root = powercap(tmp_path / "pc", {0: (0, 10**12)})
    return {
        "fake": lambda c: FakeMeter(50.0, c),
        "cpu-time": lambda c: CpuTimeMeter(os.getpid(), 10.0),
        "ram": lambda c: RamMeter(os.getpid(), 0.4, c),
        "rapl": lambda c: RaplMeter(os.getpid(), root, system_seconds=lambda: 1e9),
        "nvml-counter": lambda c: nvml_meter(
            c, {"CUDA_VISIBLE_DEVICES": "0"}, fake_nvml([[0, 0, 5_000, 9_000, 12_000]])
        ),
        "nvml-power": lambda c: NvmlPowerMeter(fake_nvml(counter=False), ["h"], c, period=3600),
        "unavailable": lambda c: Unavailable("no such device"),
    }


@pytest.mark.parametrize(
    "name", ["fake", "cpu-time", "ram", "rapl", "nvml-counter", "nvml-power", "unavailable"]
)
def test_meter_contract(name: str, tmp_path: Path) -> None:
    """Joules since start, never decreasing; or None with the reason: never a silent 0."""
    clock = ManualClock(T0)
    meter = _meters(tmp_path)[name](clock)
    meter.start()
    readings = []
    for _ in range(3):
        clock.advance(5)
        sum(i * i for i in range(20_000))  # a little real CPU work
        readings.append(meter.read())
    meter.close()
    values = [j for j, _ in readings]
    methods = {m for _, m in readings}
    assert len(methods) == 1
    method = methods.pop()
    if values[0] is None:
        assert all(v is None for v in values) and method.startswith("unavailable: ")
    else:
        assert all(v is not None and v >= 0 for v in values)
        assert values == sorted(values)  # cumulative
        assert method in ("estimated", "rapl", "nvml_counter", "nvml_power")


def test_run_meter_combines_components() -> None:
    clock = ManualClock(T0)
    meter = RunMeter(
        clock, FakeMeter(300, clock, "nvml_counter"), FakeMeter(20, clock), FakeMeter(2, clock)
    )
    meter.start()
    clock.advance(10)
    m = meter.read()
    assert (m.gpu_j, m.cpu_j, m.ram_j) == (3000, 200, 20) and m.it_j == 3220
    assert (m.gpu_method, m.cpu_method, m.ram_method) == ("nvml_counter", "estimated", "estimated")


def test_build_run_meter_here() -> None:
    meter = build_run_meter(os.getpid(), 0, ManualClock(T0), 10.0, 0.3725)
    assert meter.gpu is None  # a CPU job measures no GPU
    assert visible_gpu_indices({"CUDA_VISIBLE_DEVICES": "0, 2"}) == ["0", "2"]
    assert visible_gpu_indices({"CUDA_VISIBLE_DEVICES": ""}) == []
