"""`gridwait user`: the lab's accounts and their API tokens, managed on the scheduler host.

Whoever can write the database file is the host's admin (as Slurm's SlurmUser is), so
these commands need no token."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gridwait.cli.context import JsonFlag, app_context, emit_view, err, note, out
from gridwait.units import format_time

Name = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")]


def register(app: typer.Typer) -> None:
    user = typer.Typer(help="Users and their API tokens (on the scheduler host).")
    user.command("add")(user_add)
    user.command("list")(user_list)
    user.command("rm")(user_rm)
    user.command("token")(user_token)
    user.command("revoke")(user_revoke)
    user.command("notify")(user_notify)
    app.add_typer(user, name="user", no_args_is_help=True)


def user_add(
    ctx: typer.Context,
    name: Name,
    admin: Annotated[bool, typer.Option("--admin", help="An admin, not a member.")] = False,
) -> None:
    """Add a member (or, with --admin, an admin) of the lab."""
    from gridwait.app.actor import Role
    from gridwait.app.users import add_user

    app = app_context(ctx)
    view = add_user(app.deps, app.actor, name, Role.ADMIN if admin else Role.MEMBER)
    note(f"added {view.role} {view.name}; give them a token: gridwait user token {view.name}")


def user_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Users, their roles and their tokens (never the tokens themselves)."""
    from gridwait.app.users import list_users

    app = app_context(ctx)
    views = list_users(app.deps, app.actor)
    if as_json:
        emit_view(views)
        return
    if not views:
        note("no users yet: gridwait user add NAME [--admin]")
        return
    table = Table("name", "role", "since", "tokens (id name, last used)", "notify")
    for v in views:
        tokens = ", ".join(
            f"{t.id} {t.name} ({format_time(t.last_used_at) if t.last_used_at else 'never'})"
            for t in v.tokens
        )
        table.add_row(v.name, v.role, format_time(v.created_at), tokens or "-", v.notify or "-")
    out.print(table)


def user_rm(ctx: typer.Context, name: Name) -> None:
    """Remove a user and revoke their tokens; their jobs and history stay."""
    from gridwait.app.users import remove_user

    app = app_context(ctx)
    remove_user(app.deps, app.actor, name)
    note(f"removed user {name} and revoked their tokens")


def user_token(
    ctx: typer.Context,
    name: Name,
    label: Annotated[
        str, typer.Option("--name", help="What the token is for, e.g. laptop.")
    ] = "default",
    as_json: JsonFlag = False,
) -> None:
    """Make an API token for a user. It is shown once: gridwait keeps only its hash."""
    from gridwait.app.users import issue_token

    app = app_context(ctx)
    issued = issue_token(app.deps, app.actor, name, label)
    if as_json:
        emit_view(issued)
        return
    err.print(
        f"token {issued.id} {issued.name!r} for {issued.user}; shown once, keep it secret"
        " (set it as GRIDWAIT_TOKEN):",
        markup=False,
    )
    out.print(issued.token, markup=False)


def user_revoke(
    ctx: typer.Context,
    name: Name,
    token_id: Annotated[int, typer.Argument(metavar="TOKEN_ID", min=1, max=2**63 - 1)],
) -> None:
    """Revoke one of a user's tokens (its id is in `gridwait user list`)."""
    from gridwait.app.users import revoke_token

    app = app_context(ctx)
    revoke_token(app.deps, app.actor, name, token_id)
    note(f"revoked token {token_id} of {name}")


def user_notify(
    ctx: typer.Context,
    name: Name,
    url: Annotated[
        str | None,
        typer.Argument(
            metavar="[URL]",
            help="An apprise URL (mailtos://, slack://, matrixs://...); - reads it from stdin,"
            " out of the shell's history.",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the user's URL.")] = False,
) -> None:
    """Where a user's own notifications go (their jobs started, finished, failed, held,
    late), beside the lab's [notify] urls. The URL holds credentials: it is stored for the
    scheduler to use and shown only masked."""
    import sys

    from gridwait.app.users import set_notify_url
    from gridwait.errors import ConfigError

    if clear == (url is not None):
        raise ConfigError("user notify: give a URL or --clear (not both)")
    if url == "-":
        url = sys.stdin.readline().strip()
    app = app_context(ctx)
    view = set_notify_url(app.deps, app.actor, name, None if clear else url)
    if view.notify is None:
        note(f"{name} gets no notifications of their own now (the lab's URLs still do)")
    else:
        note(f"{name}'s notifications go to {view.notify}; try it: gridwait notify test -u {name}")
