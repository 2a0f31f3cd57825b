"""The contract every energy meter keeps, and the `Measurement` of a whole run.

An `EnergyMeter` measures one component (GPU, CPU or RAM) of one job:

- `start()` takes the baseline, once. It may raise `MeterError` when the hardware
  cannot be read at all.
- `read()` returns `(joules, method)`: the joules of the component since `start()`,
  cumulative and never decreasing from one read to the next, and the method that produced
  them (`nvml_counter`, `nvml_power`, `rapl`, `estimated`, possibly with the reason for an
  estimate in brackets). A meter that cannot measure returns `(None, "unavailable: why")`:
  never a silent 0.
- `close()` stops any thread or library session. It may be called more than once, and
  without `start()`.

Calling `read()` before `start()` or after `close()`, or `start()` twice or after
`close()`, is a bug in the caller and raises `MeterError`; the base class enforces it.
Implementations override `_baseline()`, `_measure()` and `_release()`, never the three
public methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from gridwait.errors import MeterError

Reading = tuple[float | None, str]
"""(joules since start or None, method or 'unavailable: why')"""


@dataclass(frozen=True)
class Measurement:
    """Cumulative joules per component since the run started (IT energy, no PUE)."""

    mono_s: float
    """Real seconds (monotonic) when read."""
    gpu_j: float | None
    """Joules of the job's GPUs, or None when they cannot be measured (or there are none)."""
    cpu_j: float | None
    """Joules of the job's share of the CPU packages, or None."""
    ram_j: float | None
    """Joules of the job's resident memory, or None."""
    gpu_method: str | None
    cpu_method: str | None
    ram_method: str | None

    @property
    def it_j(self) -> float:
        """Joules of the components that were measured (IT energy: no PUE)."""
        return sum(j for j in (self.gpu_j, self.cpu_j, self.ram_j) if j is not None)


class EnergyMeter(ABC):
    """Joules of one component since `start()` (the contract is in the module docstring)."""

    method: str
    """How the joules are obtained, or 'unavailable: why'."""
    _state: Literal["new", "started", "closed"] = "new"

    def start(self) -> None:
        """Take the baseline; raises `MeterError` if started before or closed."""
        if self._state != "new":
            raise MeterError(f"{type(self).__name__}.start(): the meter is already {self._state}")
        self._baseline()
        self._state = "started"

    def read(self) -> Reading:
        """Joules since `start()` and the method, or (None, 'unavailable: ...').

        Raises `MeterError` before `start()` or after `close()`."""
        if self._state == "new":
            raise MeterError(f"{type(self).__name__}.read() before start()")
        if self._state == "closed":
            raise MeterError(f"{type(self).__name__}.read() after close()")
        return self._measure()

    def close(self) -> None:
        """Release what the meter holds. Idempotent; allowed without `start()`."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._release()

    def _baseline(self) -> None:  # noqa: B027  (most meters need no baseline)
        """Record what `_measure()` counts from."""

    @abstractmethod
    def _measure(self) -> Reading:
        """The reading, once started and not closed."""

    def _release(self) -> None:  # noqa: B027  (most meters hold nothing)
        """Stop any thread or library session. Called at most once."""


class Unavailable(EnergyMeter):
    """A component that cannot be measured here, and why."""

    def __init__(self, reason: str) -> None:
        self.method = f"unavailable: {reason}"

    def _measure(self) -> Reading:
        return None, self.method
