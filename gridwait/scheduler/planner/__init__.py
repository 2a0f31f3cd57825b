"""The planner: the greenest start (or set of slots) for every job, under deadlines and
GPU capacity. Pure: plain values in, plain values out; no database, no clock, no I/O.

- `model`: what goes in and comes out (`PlanJob`, `Running`, `PlanOptions`, `Placement`).
- `signal`: the forecast, the fallback and the forecast's mean merged into ONE
  piecewise-constant intensity, integrated exactly (`gridwait.grid.series.StepFunction`).
- `capacity`: free GPUs per step; windows reserve every step they touch.
- `contiguous`: the cheapest single window, exact over continuous start times.
- `split`: the cheapest split of an interruptible job, exact over whole-slot segments.
- `core`: `plan` itself, the order jobs are placed in, and the late path.
- `where`: `plan_where`, several launch targets in several zones: where AND when.
"""

from gridwait.scheduler.planner.core import plan
from gridwait.scheduler.planner.model import Placement, PlanJob, PlanOptions, Running
from gridwait.scheduler.planner.where import Site, plan_where

__all__ = ["Placement", "PlanJob", "PlanOptions", "Running", "Site", "plan", "plan_where"]
