"""`gridwait notify test`: does each notification target take a message?"""

from __future__ import annotations

from typing import Annotated

import typer

from gridwait.cli.context import JsonFlag, app_context, emit_view, out


def register(app: typer.Typer) -> None:
    notify = typer.Typer(help="Notifications (apprise URLs: e-mail, Slack, Matrix, Teams...).")
    notify.command("test")(notify_test)
    app.add_typer(notify, name="notify", no_args_is_help=True)


def notify_test(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Test this user's own URL instead of the lab's."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a test message to the lab's URLs (or a user's own): one line per target, its
    URL masked; exit 1 if any failed."""
    from gridwait.app.notify import send_test

    app = app_context(ctx)
    deliveries = send_test(app.deps, app.actor, user)
    if as_json:
        emit_view(deliveries)
    else:
        for d in deliveries:
            line = f"ok    {d.target}" if d.ok else f"FAIL  {d.target}: {d.reason}"
            out.print(line, markup=False)
    if not all(d.ok for d in deliveries):
        raise typer.Exit(1)
