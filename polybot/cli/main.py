"""Entry point of the ``polybot`` command.

Heavy imports happen inside commands so ``polybot --help`` stays fast. A ``ConfigError`` anywhere
becomes a clear message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from typing import Annotated

import typer

from polybot.cli import bus as bus_commands
from polybot.cli import db as db_commands
from polybot.config import load_settings, masked_settings
from polybot.core.errors import ConfigError

app = typer.Typer(
    name="polybot",
    help="PolyBot: a research-and-trade workbench for Polymarket, with a local protocol-faithful venue.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print PolyBot's version."""
    typer.echo(metadata.version("polybot-workbench"))


@app.command()
def config(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of key = value lines.")
    ] = False,
) -> None:
    """Print the effective settings (env + config file + defaults), secrets masked."""
    effective = masked_settings(load_settings())
    if as_json:
        typer.echo(json.dumps(effective, indent=2))
        return
    for key, value in _flatten(effective):
        typer.echo(f"{key} = {json.dumps(value)}")


def _flatten(data: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


db_commands.register(app)
bus_commands.register(app)
for optional in (
    "polybot.cli.sim",
    "polybot.cli.strategy",
    "polybot.cli.stack",
    "polybot.cli.dashboards",
    "polybot.cli.api",
):
    # Command groups from later layers register themselves when present.
    try:
        module = __import__(optional, fromlist=["register"])
    except ModuleNotFoundError as missing:
        if missing.name != optional:
            raise
    else:
        module.register(app)


def run() -> None:
    """Run the CLI, turning configuration errors into a readable message."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    run()
