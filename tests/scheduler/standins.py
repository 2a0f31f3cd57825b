"""A launcher standing in for the worker process in service tests: every run it starts is
running until the test says otherwise (it reports for the worker through the use cases)."""

from __future__ import annotations

from gridwait.workers.launchers.base import Launcher, LaunchState, RunRequest, Status


class StandIn(Launcher):
    """Starts nothing; remembers what it was asked to start."""

    def __init__(self) -> None:
        self.started: list[RunRequest] = []

    def start(self, request: RunRequest) -> str:
        self.started.append(request)
        return f"fake-{request.run_id}"

    def poll(self, handle: str) -> Status:
        return Status(LaunchState.RUNNING)

    def cancel(self, handle: str) -> None:
        pass

    def suspend(self, handle: str) -> None:
        pass
