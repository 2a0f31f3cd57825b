"""`gridwait run` (the scheduler service in the foreground) and `gridwait settle`."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer

from gridwait.cli.context import app_context, note


def register(app: typer.Typer) -> None:
    app.command("run")(run_service)
    app.command()(settle)


class _DomainTime(logging.Formatter):
    """Log lines stamped with the service's clock (simulated time on a simulated clock)."""

    def __init__(self, clock: object) -> None:
        super().__init__("%(now)s %(levelname)-7s %(message)s")
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        record.now = self.clock.now().strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[attr-defined]
        return super().format(record)


def run_service(
    ctx: typer.Context,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Return when every job has finished.")
    ] = False,
    clock: Annotated[
        str, typer.Option(help="system, or sim:FACTOR for a simulated clock FACTOR times faster.")
    ] = "system",
    timeout: Annotated[
        float | None, typer.Option(help="Give up after this many real seconds (exit 1).")
    ] = None,
) -> None:
    """Run the scheduler in the foreground: poll forecasts, plan, dispatch, measure, account.

    Ctrl-C stops it cleanly; running workers keep running and a restarted service follows them."""
    from gridwait.clock import parse_clock
    from gridwait.grid.factory import build_provider
    from gridwait.scheduler.service import Service
    from gridwait.workers.launchers.local import LocalLauncher

    app = app_context(ctx)
    app.clock = parse_clock(clock)
    handler = logging.StreamHandler()
    handler.setFormatter(_DomainTime(app.clock))
    root = logging.getLogger("gridwait")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    store = app.store()
    provider = build_provider(app.settings, app.clock, store)
    service = Service(app.settings, app.clock, store, provider, LocalLauncher())
    started = time.monotonic()
    service.start()
    try:
        while True:
            time.sleep(0.2)
            if until_idle and service.idle():
                break
            if timeout is not None and time.monotonic() - started > timeout:
                raise typer.Exit(1)
    except KeyboardInterrupt:
        note("stopping (Ctrl-C)")
    finally:
        service.stop()
    if until_idle:
        with store.read() as session:
            from gridwait.states import JobState
            from gridwait.store.jobs import jobs_in

            held = jobs_in(session, (JobState.HELD,))
        if held:
            note(f"idle; {len(held)} job(s) held for budgets: {', '.join(str(j.id) for j in held)}")


def settle(ctx: typer.Context) -> None:
    """Recompute provisional emissions now that actual intensities may be published."""
    from gridwait.grid.factory import build_provider
    from gridwait.scheduler.accounting import settle as settle_runs

    app = app_context(ctx)
    provider = build_provider(app.settings, app.clock, app.store())
    done, pending = settle_runs(app.store(), provider, app.settings.grid.zone, app.clock)
    note(f"settled {done} run(s); {pending} still provisional")
