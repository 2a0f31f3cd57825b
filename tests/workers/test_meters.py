"""Energy meters: one contract suite run over every meter (fake, psutil estimates, RAPL
on a fake powercap tree, NVML counter and power with the library mocked by autospec, and
the real NVML where this machine has a GPU); then each meter's own details."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pynvml
import pytest

from gridwait.clock import ManualClock, SystemClock
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
    nvml: mock.MagicMock = mock.create_autospec(pynvml, instance=False)
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


# ---- the contract, over every meter ------------------------------------------------------

METHODS = ("estimated", "rapl", "nvml_counter", "nvml_power")
STEP_S = 5.0


@dataclass
class Rig:
    """A meter on its (fake or real) hardware. `tick()` lets STEP_S seconds pass while
    the hardware uses energy; `expected` is the joules after each of three ticks, where
    the hardware is fake enough to know them exactly."""

    meter: EnergyMeter
    method: str
    tick: Callable[[], None]
    expected: list[float] | None = None


def fake_rig(tmp_path: Path) -> Rig:
    clock = ManualClock(T0)
    return Rig(FakeMeter(50.0, clock), "estimated", lambda: clock.advance(STEP_S), [250, 500, 750])


def busy(clock: ManualClock) -> Callable[[], None]:
    def tick() -> None:
        clock.advance(STEP_S)
        sum(i * i for i in range(20_000))  # a little real CPU work

    return tick


def cpu_time_rig(tmp_path: Path) -> Rig:
    """psutil on this very process: an estimate whose value we cannot know in advance."""
    return Rig(CpuTimeMeter(os.getpid(), 10.0), "estimated", busy(ManualClock(T0)))


def ram_rig(tmp_path: Path) -> Rig:
    clock = ManualClock(T0)
    return Rig(RamMeter(os.getpid(), 0.4, clock), "estimated", busy(clock))


def rapl_rig(tmp_path: Path) -> Rig:
    """Two packages using 20 J and 10 J per tick, package 0 wrapping at the second tick;
    the job uses a quarter of all CPU time: 7.5 J per tick."""
    top = 262_143_328_850
    root = powercap(tmp_path / "powercap", {0: (top - 30_000_000, top), 1: (0, top)})
    cpu = {"job": 100.0, "all": 1000.0}
    meter = RaplMeter(
        os.getpid(), root, cpu_seconds=lambda pid: cpu["job"], system_seconds=lambda: cpu["all"]
    )

    def tick() -> None:
        for i, uj in ((0, 20_000_000), (1, 10_000_000)):
            counter = root / f"intel-rapl:{i}" / "energy_uj"
            counter.write_text(f"{(int(counter.read_text()) + uj) % top}\n")
        cpu["job"] += 2.0
        cpu["all"] += 8.0

    return Rig(meter, "rapl", tick, [7.5, 15.0, 22.5])


def nvml_counter_rig(tmp_path: Path) -> Rig:
    """GPUs 0 and 2 (of 4) at 300 W each, counters in mJ since driver load."""
    nvml = fake_nvml()
    counters = {"handle-0": 7_000_000, "handle-2": 9_000_000}
    nvml.nvmlDeviceGetTotalEnergyConsumption.side_effect = counters.__getitem__
    meter = nvml_meter(ManualClock(T0), {"CUDA_VISIBLE_DEVICES": "0,2"}, nvml)
    assert isinstance(meter, NvmlCounterMeter)

    def tick() -> None:
        for handle in counters:
            counters[handle] += int(300 * STEP_S * 1000)

    return Rig(meter, "nvml_counter", tick, [3000.0, 6000.0, 9000.0])


def nvml_power_rig(tmp_path: Path) -> Rig:
    """One GPU without the counter, at 200 W; no background polls (we step the clock)."""
    clock = ManualClock(T0)
    nvml = fake_nvml(counter=False, power_mw=200_000)
    meter = NvmlPowerMeter(nvml, ["handle-0"], clock, period=3600)
    return Rig(meter, "nvml_power", lambda: clock.advance(STEP_S), [1000.0, 2000.0, 3000.0])


def unavailable_rig(tmp_path: Path) -> Rig:
    return Rig(Unavailable("no such device"), "unavailable: no such device", lambda: None)


def real_nvml_rig(tmp_path: Path) -> Rig:
    """This machine's GPUs through the real library, where there are any."""
    meter = nvml_meter(SystemClock())
    if isinstance(meter, Unavailable):
        pytest.skip(f"no GPU to measure here ({meter.method})")
    return Rig(meter, meter.method, lambda: time.sleep(0.2))  # real hardware takes real time


RIGS: dict[str, Callable[[Path], Rig]] = {
    "fake": fake_rig,
    "cpu-time": cpu_time_rig,
    "ram": ram_rig,
    "rapl": rapl_rig,
    "nvml-counter": nvml_counter_rig,
    "nvml-power": nvml_power_rig,
    "unavailable": unavailable_rig,
    "nvml-real": real_nvml_rig,
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=[pytest.mark.gpu] if name == "nvml-real" else []) for name in RIGS
    ]
)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    made = RIGS[request.param](tmp_path)
    yield made
    made.meter.close()


def test_joules_are_cumulative_since_start_and_labelled(rig: Rig) -> None:
    """Joules since start, never decreasing, with the method; or None with the reason:
    never a silent 0."""
    rig.meter.start()
    readings = []
    for _ in range(3):
        rig.tick()
        readings.append(rig.meter.read())
    values = [j for j, _ in readings]
    assert [m for _, m in readings] == [rig.method] * 3
    if rig.method.startswith("unavailable: "):
        assert values == [None, None, None]
        return
    assert rig.method in METHODS
    assert all(v is not None and v >= 0 for v in values)
    assert values == sorted(values)  # type: ignore[type-var]  # cumulative
    if rig.expected is not None:
        assert values == pytest.approx(rig.expected)


def test_read_before_start_is_an_error_that_changes_nothing(rig: Rig) -> None:
    with pytest.raises(MeterError, match=r"read\(\) before start\(\)"):
        rig.meter.read()
    rig.meter.start()
    rig.tick()
    joules, method = rig.meter.read()
    assert method == rig.method
    if rig.expected is not None:  # the early read took no baseline and consumed nothing
        assert joules == pytest.approx(rig.expected[0])


def test_start_is_taken_once(rig: Rig) -> None:
    rig.meter.start()
    with pytest.raises(MeterError, match="already started"):
        rig.meter.start()


def test_close_ends_the_meter_and_may_be_repeated(rig: Rig) -> None:
    rig.meter.start()
    rig.tick()
    rig.meter.read()
    rig.meter.close()
    rig.meter.close()
    with pytest.raises(MeterError, match=r"read\(\) after close\(\)"):
        rig.meter.read()
    with pytest.raises(MeterError, match="already closed"):
        rig.meter.start()


def test_close_without_start_is_allowed(rig: Rig) -> None:
    rig.meter.close()
    with pytest.raises(MeterError, match=r"read\(\) after close\(\)"):
        rig.meter.read()


# ---- NVML ----------------------------------------------------------------------------------


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
    meter.start()
    joules, method = meter.read()
    assert joules is None and method.startswith("unavailable: NVML")


def test_on_this_machine_nvml_is_unavailable_not_zero() -> None:
    meter = nvml_meter(ManualClock(T0), {"CUDA_VISIBLE_DEVICES": "0"})
    meter.start()
    joules, method = meter.read()
    meter.close()
    if isinstance(meter, Unavailable):
        assert joules is None and "unavailable" in method
    else:  # a machine with a GPU
        assert joules is not None


def test_nvml_counter_read_before_start_is_a_meter_error() -> None:
    """Not a zip against an empty baseline: a clear error, and NVML is not even asked."""
    nvml = fake_nvml()
    meter = NvmlCounterMeter(nvml, ["handle-0", "handle-1"])
    with pytest.raises(MeterError, match=r"^NvmlCounterMeter\.read\(\) before start\(\)$"):
        meter.read()
    nvml.nvmlDeviceGetTotalEnergyConsumption.assert_not_called()


def test_nvml_power_close_stops_the_polling_thread() -> None:
    clock = ManualClock(T0)
    nvml = fake_nvml(counter=False, power_mw=100_000)
    meter = NvmlPowerMeter(nvml, ["handle-0"], clock, period=0.01)
    meter.start()
    assert meter._thread.is_alive()
    meter.close()
    assert not meter._thread.is_alive()


# ---- RAPL ----------------------------------------------------------------------------------


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


def test_cpu_meter_prefers_rapl_and_returns_it_unstarted(tmp_path: Path) -> None:
    root = powercap(tmp_path / "powercap", {0: (1_000_000, 10**12)})
    meter = cpu_meter(os.getpid(), 10.0, root)
    assert isinstance(meter, RaplMeter)
    with pytest.raises(MeterError, match=r"before start\(\)"):  # the probe was another meter
        meter.read()
    meter.start()
    assert meter.read() == (0.0, "rapl")


# ---- estimates -----------------------------------------------------------------------------


def test_cpu_time_and_ram_estimates() -> None:
    cpu = iter([100.0, 112.5])
    meter = CpuTimeMeter(1, watts_per_core=8.0, cpu_seconds=lambda pid: next(cpu))
    meter.start()
    joules, method = meter.read()
    assert method == "estimated" and joules == pytest.approx(12.5 * 8.0)
    clock = ManualClock(T0)
    rss = iter([2_000_000_000, 4_000_000_000])
    ram = RamMeter(1, watts_per_gb=0.5, clock=clock, rss=lambda pid: next(rss))
    ram.start()
    clock.advance(100)
    joules, method = ram.read()
    assert method == "estimated" and joules == pytest.approx(100 * 3.0 * 0.5)  # mean of 2, 4 GB


# ---- the run's meter -----------------------------------------------------------------------


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


def test_run_meter_keeps_the_contract() -> None:
    clock = ManualClock(T0)
    meter = RunMeter(clock, None, FakeMeter(20, clock), Unavailable("no RAM counter"))
    with pytest.raises(MeterError, match=r"FakeMeter\.read\(\) before start\(\)"):
        meter.read()
    meter.start()
    clock.advance(1)
    m = meter.read()
    assert (m.gpu_j, m.cpu_j, m.ram_j, m.it_j) == (None, 20, None, 20)
    assert (m.gpu_method, m.ram_method) == (None, "unavailable: no RAM counter")
    meter.close()
    meter.close()
    with pytest.raises(MeterError, match=r"after close\(\)"):
        meter.read()


def test_build_run_meter_here() -> None:
    clock = ManualClock(T0)
    meter = build_run_meter(os.getpid(), 0, clock, 10.0, 0.3725)
    assert meter.gpu is None  # a CPU job measures no GPU
    meter.start()
    clock.advance(STEP_S)
    m = meter.read()
    meter.close()
    assert m.gpu_j is None and m.cpu_j is not None and m.ram_j is not None and m.ram_j > 0
    assert visible_gpu_indices({"CUDA_VISIBLE_DEVICES": "0, 2"}) == ["0", "2"]
    assert visible_gpu_indices({"CUDA_VISIBLE_DEVICES": ""}) == []
