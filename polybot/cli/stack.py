"""``polybot up | down | status | logs``: run the whole stack on this machine."""

from __future__ import annotations

from typing import Annotated

import typer

from polybot.config import load_settings


def up(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every service.")] = 180.0,
) -> None:
    """Start the local venue (unless another venue is configured) and every service."""
    from polybot.stack.control import up as start
    from polybot.stack.plan import default_plan
    from polybot.storage.migrate import init_db

    settings = load_settings()
    typer.echo(f"database {settings.sqlite_path}: at revision {init_db(settings.sqlite_path)}")
    code = start(default_plan(settings), timeout_s=timeout, echo=typer.echo)
    if code == 0:
        typer.echo(f"venue: {settings.venue.url('clob')}  (gamma {settings.venue.url('gamma')})")
        typer.echo(f"bus:   {settings.bus.prices_pub}  {settings.bus.events_pub}")
        typer.echo(f"data:  {settings.data_dir.resolve()}   stop with `polybot down`")
    raise typer.Exit(code)


def down() -> None:
    """Stop the stack gracefully."""
    from polybot.stack.control import down as stop

    raise typer.Exit(stop(load_settings().data_dir.resolve(), echo=typer.echo))


def status() -> None:
    """Show each service's health, pid, uptime and counters (exit 0 when all are healthy)."""
    from polybot.stack.control import status as show

    raise typer.Exit(show(load_settings().data_dir.resolve(), echo=typer.echo))


def logs(
    service: Annotated[str | None, typer.Argument(help="Service name (default: all).")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
) -> None:
    """Print the end of a service's log (under data/logs)."""
    from polybot.stack.control import logs as show_logs

    raise typer.Exit(
        show_logs(load_settings().data_dir.resolve(), service, lines=lines, echo=typer.echo)
    )


def register(app: typer.Typer) -> None:
    """Add up/down/status/logs to ``app``."""
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(logs)
