"""``polybot api token``: print the local API token (creating it on first run).

The token authenticates every state-changing API route (``Authorization: Bearer <token>``) and
the WebSocket. It lives in ``<data_dir>/api_token`` with owner-only permissions; anyone who can
read it can trade, so it is printed only when asked for, on standard output, and never logged.
"""

from __future__ import annotations

from typing import Annotated

import typer

from polybot.config import load_settings

api_app = typer.Typer(help="The REST/WebSocket API service.", no_args_is_help=True)


@api_app.command("token")
def token(
    path_only: Annotated[
        bool, typer.Option("--path", help="Print where the token lives instead of its value.")
    ] = False,
) -> None:
    """Print the API token (created with 0600 permissions on first run)."""
    from polybot.statecmd.token import ensure_token, token_path

    settings = load_settings()
    if path_only:
        typer.echo(str(token_path(settings.data_dir)))
        return
    typer.echo(ensure_token(settings.data_dir))


def register(app: typer.Typer) -> None:
    """Add ``polybot api`` to the main CLI."""
    app.add_typer(api_app, name="api")
