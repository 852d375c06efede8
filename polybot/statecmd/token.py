"""The local command token: created once under the data dir with 0600, compared in constant time.

Anything that can read ``data/api_token`` may change the stack's state (kill switch, cancel all,
risk limits), so the file is owner-only and the value never appears in a log, a response or an
audit row. The API service reads the same file to authenticate its own callers' commands.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

from polybot.core.errors import ConfigError

TOKEN_FILE = "api_token"
TOKEN_MODE = 0o600
_TOKEN_BYTES = 32


def token_path(data_dir: Path) -> Path:
    """Return where the local command token lives."""
    return data_dir / TOKEN_FILE


def ensure_token(data_dir: Path) -> str:
    """Return the local token, creating it (0600, atomically) on first run.

    An existing file with looser permissions is tightened: group/world-readable tokens would let
    other local users send commands.
    """
    path = token_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two services starting at once must not overwrite each other's token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_MODE)
    except FileExistsError:
        return read_token(data_dir)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(_TOKEN_BYTES) + "\n")
    os.chmod(path, TOKEN_MODE)  # the umask may have removed bits we never wanted anyway
    return read_token(data_dir)


def read_token(data_dir: Path) -> str:
    """Return the token from ``data_dir`` (tightening its permissions); ``ConfigError`` if absent."""
    path = token_path(data_dir)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != TOKEN_MODE:
            os.chmod(path, TOKEN_MODE)
        value = path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"no command token at {path}: start the state service once (it creates the token)"
        ) from None
    if not value:
        raise ConfigError(f"the command token file {path} is empty: delete it and restart")
    return value


def token_matches(expected: str, given: str) -> bool:
    """Return True when ``given`` is the token; constant time so timing reveals nothing."""
    return hmac.compare_digest(expected.encode(), given.encode())
