"""The `gridwait` command line. Every domain error becomes one line on stderr and a
non-zero exit code; `--debug` shows the traceback instead."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated

import typer

from gridwait.cli import (
    admin,
    demo,
    estimate,
    grid,
    jobs,
    notify,
    plan,
    review,
    run,
    simulate,
    users,
)
from gridwait.cli.context import AppContext, err, out
from gridwait.errors import GridwaitError, one_line

app = typer.Typer(
    name="gridwait",
    help="Run fine-tuning jobs when the electricity grid is cleanest.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
_DEBUG = False


def _print_version(wanted: bool) -> None:
    if wanted:
        from gridwait.version import version

        out.print(f"gridwait {version()}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(help="Settings file (default: $GRIDWAIT_CONFIG or the user config dir)."),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option(help="SQLite database (default: $GRIDWAIT_DB or the user data dir)."),
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    global _DEBUG
    _DEBUG = debug
    ctx.obj = AppContext(config=config, db=db, debug=debug)
    ctx.call_on_close(ctx.obj.close)


admin.register(app)
jobs.register(app)
grid.register(app)
estimate.register(app)
plan.register(app)
simulate.register(app)
run.register(app)
review.register(app)
demo.register(app)
users.register(app)
notify.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, translate errors, return the exit code."""
    try:
        code = app(args=argv, prog_name="gridwait", standalone_mode=False)
    except GridwaitError as exc:
        if _DEBUG:
            traceback.print_exc()
        err.print(f"error: {one_line(str(exc))}", markup=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: typer's vendored ClickException
        format_message = getattr(exc, "format_message", None)
        message = format_message() if format_message is not None else str(exc)
        err.print(f"error: {' '.join(message.split())} (see --help)", markup=False)
        return int(getattr(exc, "exit_code", 2))
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        return 130
    except BrokenPipeError:
        return 0
    return code if isinstance(code, int) else 0
