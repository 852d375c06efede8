"""``polybot db init|migrate|downgrade|stats``: the operational SQLite database."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from polybot.config import load_settings

db_app = typer.Typer(
    help="Create, migrate and inspect the operational SQLite database.", no_args_is_help=True
)


@db_app.command("init")
def init() -> None:
    """Create the database (or bring it to the newest schema)."""
    from polybot.storage.migrate import init_db

    settings = load_settings()
    revision = init_db(settings.sqlite_path)
    typer.echo(f"{settings.sqlite_path}: at revision {revision}")


@db_app.command("migrate")
def migrate(
    revision: Annotated[str, typer.Option("--revision", "-r", help="Target revision.")] = "head",
) -> None:
    """Upgrade the schema to REVISION (default: the newest)."""
    from polybot.storage.migrate import current_revision, upgrade

    settings = load_settings()
    upgrade(settings.sqlite_path, revision)
    typer.echo(f"{settings.sqlite_path}: at revision {current_revision(settings.sqlite_path)}")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. 'base' or '-1'.")],
) -> None:
    """Downgrade the schema to REVISION."""
    from polybot.storage.migrate import current_revision
    from polybot.storage.migrate import downgrade as run_downgrade

    settings = load_settings()
    run_downgrade(settings.sqlite_path, revision)
    typer.echo(f"{settings.sqlite_path}: at revision {current_revision(settings.sqlite_path)}")


@db_app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print row counts per table, the file size and the journal mode."""
    from polybot.storage.migrate import db_stats

    settings = load_settings()
    try:
        result = db_stats(settings.sqlite_path)
    except FileNotFoundError as missing:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    """Add the ``db`` command group to ``app``."""
    app.add_typer(db_app, name="db")
