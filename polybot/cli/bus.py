"""``polybot bus tap|schema``: watch live bus traffic; regenerate the wire documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from polybot.config import load_settings

bus_app = typer.Typer(help="Inspect the NNG buses and the wire contract.", no_args_is_help=True)


@bus_app.command("tap")
def tap(
    message_type: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only these message types (repeatable)."),
    ] = None,
    market: Annotated[
        str | None, typer.Option("--market", "-m", help="Only this market (condition id).")
    ] = None,
    address: Annotated[
        list[str] | None,
        typer.Option(
            "--address", "-a", help="PUB addresses to tap (default: prices, events, api)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Stop after this many messages (0 = no limit).")] = 0,
    seconds: Annotated[
        float, typer.Option(help="Stop after this many seconds (0 = no limit).")
    ] = 0.0,
) -> None:
    """Print live bus traffic, decoded, one message per line (Ctrl-C to stop)."""
    from polybot.bus.tap import tap as run_tap

    settings = load_settings()
    addresses = address or [settings.bus.prices_pub, settings.bus.events_pub, settings.bus.api_pub]
    run_tap(
        addresses, types=message_type, market=market, limit=limit or None, timeout=seconds or None
    )


@bus_app.command("schema")
def schema(
    write: Annotated[
        bool, typer.Option("--write", help="Write docs/wire.md and docs/wire.schema.json.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON Schema instead of Markdown.")
    ] = False,
) -> None:
    """Print (or write) the wire contract generated from the message classes."""
    from polybot.bus import schema as wire_schema

    if write:
        for path in wire_schema.write_documents(Path()):
            typer.echo(f"wrote {path}")
        return
    typer.echo(
        wire_schema.render_json_schema() if as_json else wire_schema.render_markdown(), nl=False
    )


def register(app: typer.Typer) -> None:
    """Add the ``bus`` command group to ``app``."""
    app.add_typer(bus_app, name="bus")
