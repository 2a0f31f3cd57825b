"""The estimating lane: submits and estimates run on threads of their own, few of them.

Both are CPU-bound Python (the token estimate) ending in one serialized write, and
CPython runs one thread at a time: eight submits on the shared pool's threads at once
spent their time handing the GIL around. Measured with benchmarks/api.py (8 clients x 200
submits, 2 cores): 88-93 submits/s on the shared 40-thread pool, 103-136 in this lane of
two (0.43-0.47 of in-process submits before, 0.58-0.65 after). Two, not one, so that
one long estimate (a large dataset's first tokenizing) does not hold up every other
submit; reads keep the shared pool and never wait here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request

ESTIMATE_THREADS = 2
T = TypeVar("T")


async def in_estimate_lane(request: Request, call: Callable[[], T]) -> T:
    state = request.app.state
    limiter = getattr(state, "estimate_lane", None)
    if limiter is None:  # made on the event loop, by its first user
        limiter = state.estimate_lane = CapacityLimiter(ESTIMATE_THREADS)
    return await anyio.to_thread.run_sync(call, limiter=limiter)
