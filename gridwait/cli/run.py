"""`gridwait run` (the scheduler service in the foreground) and `gridwait settle`."""

from __future__ import annotations

import logging
import signal
import time
from typing import TYPE_CHECKING, Annotated

import typer

from gridwait.cli.context import AppContext, app_context, err, note
from gridwait.clock import Clock

if TYPE_CHECKING:
    from gridwait.api.server import ApiServer


def register(app: typer.Typer) -> None:
    app.command("run")(run_service)
    app.command()(settle)


class _DomainTime(logging.Formatter):
    """Log lines stamped with the service's clock (simulated time on a simulated clock)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__("%(now)s %(levelname)-7s %(message)s")
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        record.now = self.clock.now().strftime("%Y-%m-%d %H:%M:%S")
        return super().format(record)


def log_to_stderr(clock: Clock) -> None:
    handler = logging.StreamHandler(err.file)
    handler.setFormatter(_DomainTime(clock))
    root = logging.getLogger("gridwait")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def serve(
    app: AppContext, until_idle: bool, timeout: float | None, listen: str | None = None
) -> bool:
    """Run the service until idle, Ctrl-C or SIGTERM; False if `timeout` real seconds ran out.
    With `listen` (HOST:PORT), the HTTP API is served beside it.

    The signals only set a flag: a KeyboardInterrupt raised wherever the main thread
    happens to be (half way through start-up) could skip the orderly stop."""
    from gridwait.grid.factory import reporting_provider
    from gridwait.scheduler.service import Service
    from gridwait.workers.launchers.factory import make_launcher

    store = app.store()
    planning = app.deps.provider()
    reporting = reporting_provider(app.settings, app.clock, store, planning)
    service = Service(
        app.settings, app.clock, store, planning, make_launcher(app.settings), reporting
    )
    api = _api(app, listen) if listen else None
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _frame: caught.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    started = time.monotonic()
    try:
        service.start()
        while not caught and not (until_idle and service.idle()):
            time.sleep(0.2)
            if timeout is not None and time.monotonic() - started > timeout:
                note(f"gave up after {timeout:g} s (--timeout)")
                return False
        if caught:
            note("stopping (Ctrl-C)" if caught[0] == signal.SIGINT else "stopping (SIGTERM)")
    finally:
        service.stop()
        if api is not None:
            api.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return True


def _api(app: AppContext, listen: str) -> ApiServer:
    from gridwait.api.server import ApiServer
    from gridwait.config import ApiSettings
    from gridwait.errors import ConfigError

    try:
        where = ApiSettings(listen=listen)
    except ValueError:
        raise ConfigError(f"--listen: {listen!r} is not HOST:PORT such as 127.0.0.1:8787") from None
    server = ApiServer(app.deps, where.host, where.port)
    try:
        server.start()
    except OSError:
        raise ConfigError(
            f"api.listen: cannot serve on {listen} (in use, or not this host's address);"
            " choose another with --listen, or --no-api"
        ) from None
    note(f"API on {server.url}/api/v1 (docs at {server.url}/docs)")
    return server


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
    api: Annotated[
        bool | None,
        typer.Option("--api/--no-api", help="Serve the HTTP API (default: [api] enabled)."),
    ] = None,
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT of the API (default: [api] listen).")
    ] = None,
) -> None:
    """Run the scheduler in the foreground: poll forecasts, plan, dispatch, measure, account.

    Ctrl-C stops it cleanly; running workers keep running and a restarted service follows them."""
    from gridwait.app.jobs import QueueFilter, queue
    from gridwait.clock import parse_clock
    from gridwait.states import JobState

    app = app_context(ctx)
    app.clock = parse_clock(clock)
    log_to_stderr(app.clock)
    settings = app.settings.api
    serving = settings.enabled if api is None else api
    if not serve(app, until_idle, timeout, (listen or settings.listen) if serving else None):
        raise typer.Exit(1)
    if until_idle:
        held = [j for j in queue(app.deps, app.actor, QueueFilter()) if j.state == JobState.HELD]
        if held:
            note(f"idle; {len(held)} job(s) held for budgets: {', '.join(str(j.id) for j in held)}")


def settle(ctx: typer.Context) -> None:
    """Recompute provisional emissions now that actual intensities may be published."""
    from gridwait.grid.factory import build_provider, reporting_provider
    from gridwait.scheduler.accounting import settle as settle_runs

    app = app_context(ctx)
    planning = build_provider(app.settings, app.clock, app.store())
    done, pending = settle_runs(
        app.store(),
        reporting_provider(app.settings, app.clock, app.store(), planning),
        app.settings.grid.zone,
        app.clock,
        planning=planning,
        footprint=app.settings.footprint,
    )
    note(f"settled {done} run(s); {pending} still provisional")
