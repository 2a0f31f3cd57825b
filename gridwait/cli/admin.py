"""Set-up commands: `init` and `config show`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gridwait.cli.context import JsonFlag, app_context, emit_json, note, out
from gridwait.config import Settings, config_path
from gridwait.errors import ConfigError

CONFIG_TEMPLATE = """\
# gridwait settings. They override the site's (/etc/gridwait/gridwait.toml) key by key;
# environment variables GRIDWAIT_* override these (nested keys as GRIDWAIT_GRID__ZONE).
# Secrets belong in the environment: GRIDWAIT_ELECTRICITYMAPS_TOKEN (or
# ELECTRICITYMAPS_API_TOKEN), GRIDWAIT_WATTTIME_USER and GRIDWAIT_WATTTIME_PASSWORD (or
# WATTTIME_USER, WATTTIME_PASSWORD).

# db = "{db}"

[grid]
provider = "profile"      # electricitymaps | uk | watttime | trace | profile
zone = "DE"

[scheduler]
gpus = 1                  # GPUs this box lends to gridwait
poll_minutes = 30

[energy]
pue = 1.0                 # facility energy / IT energy
"""


def register(app: typer.Typer) -> None:
    app.command()(init)
    config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")


def init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Overwrite an existing settings file.")] = False,
) -> None:
    """Write a settings file (if none exists) and create the database."""
    app = app_context(ctx)
    path = app.config or config_path()
    if path.exists() and not force:
        note(f"settings: {path} (kept; --force rewrites it)")
    else:
        db = (
            app.db
            or os.environ.get("GRIDWAIT_DB")
            or Settings.model_fields["db"].get_default(call_default_factory=True)
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(CONFIG_TEMPLATE.format(db=db), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"settings: cannot write {path}: {exc.strerror}") from None
        note(f"settings: wrote {path}")
    app.store()
    note(f"database: {app.settings.db}")


def config_show(
    ctx: typer.Context,
    as_json: JsonFlag = False,
) -> None:
    """Print the effective settings (files + environment), secrets masked, and which
    settings files were read."""
    app = app_context(ctx)
    data = app.settings.masked()
    files = [str(f) for f in app.settings.files]
    read = f"settings files read (a later one wins): {', '.join(files)}" if files else ""
    if as_json:  # stdout stays the settings alone
        note(read or "no settings file read")
        emit_json(data)
        return
    out.print(f"# {read or 'no settings file read: defaults and environment'}", markup=False)
    for key, value in data.items():
        if isinstance(value, dict):
            out.print(f"[{key}]", markup=False)
            for sub, item in value.items():
                out.print(f"  {sub} = {item}", markup=False)
        else:
            out.print(f"{key} = {value}", markup=False)
