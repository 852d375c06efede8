"""``polybot dashboards``: serve the Voila dashboards in ``dashboards/`` on loopback.

Each dashboard is at ``http://127.0.0.1:<port>/voila/render/<name>.ipynb``. Kernels are
pre-heated (Voila runs each dashboard once in advance, so a page opens in about a second instead
of three). The dashboards' kernels inherit this process's environment, so they see the same
stack (``POLYBOT_*`` variables / ``polybot.toml``) as the command that started them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_PORT = 8866


def dashboards_dir() -> Path:
    """Return the ``dashboards/`` directory of this checkout."""
    return Path(__file__).resolve().parents[2] / "dashboards"


def voila_argv(directory: Path, port: int, *, preheat: bool = True) -> list[str]:
    """Return the Voila command line serving ``directory`` on 127.0.0.1:``port``."""
    argv = [
        sys.executable,
        "-m",
        "voila",
        str(directory),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
    ]
    if preheat:
        argv += ["--preheat_kernel=True", "--pool_size=1"]
    return argv


def register(app: typer.Typer) -> None:
    """Add ``polybot dashboards`` to the main CLI."""

    @app.command("dashboards")
    def serve(
        port: Annotated[
            int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")
        ] = DEFAULT_PORT,
        directory: Annotated[
            Path | None, typer.Option("--dir", help="Folder of dashboard notebooks.")
        ] = None,
        preheat: Annotated[bool, typer.Option(help="Pre-heat one kernel per dashboard.")] = True,
    ) -> None:
        """Serve the read-only Voila dashboards (market monitor, portfolio, strategies, arbitrage)."""
        folder = (directory or dashboards_dir()).resolve()
        names = sorted(p.name for p in folder.glob("*.ipynb"))
        if not names:
            typer.echo(f"no dashboards (*.ipynb) in {folder}", err=True)
            raise typer.Exit(1)
        for name in names:
            typer.echo(f"http://127.0.0.1:{port}/voila/render/{name}")
        argv = voila_argv(folder, port, preheat=preheat)
        # Become Voila (no child process): a signal to this pid reaches Voila itself, which
        # then shuts its kernels down instead of leaving them orphaned.
        os.execv(argv[0], argv)
