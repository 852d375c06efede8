"""The API token: ``Authorization: Bearer <token>`` on every route that changes state.

The token is the stack's local command token (``data/api_token``, 0600), created on first run and
shown by ``polybot api token``; the state service checks the same value on its commands. It is
compared in constant time and never logged or returned.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from polybot.statecmd.token import token_matches
from services.api.deps import CtxDep

UNAUTHORIZED = (
    "this route changes state and needs the API token: send 'Authorization: Bearer <token>' "
    "(print it with `polybot api token`)"
)
WRONG_TOKEN = "the API token is wrong: use the value printed by `polybot api token`"

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="The local API token printed by `polybot api token` (data/api_token).",
)


def require_token(
    ctx: CtxDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse the request with 401 unless it carries the API token."""
    if credentials is None or not credentials.credentials:
        ctx.count("auth_missing")
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
        )
    if not token_matches(ctx.token, credentials.credentials):
        ctx.count("auth_failed")
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, WRONG_TOKEN, headers={"WWW-Authenticate": "Bearer"}
        )


def token_is_valid(expected: str, given: str | None) -> bool:
    """Return True when ``given`` is the token (constant-time compare; used by the WebSocket)."""
    return bool(given) and token_matches(expected, given or "")


AuthDep = Depends(require_token)


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+")


class TokenRedactor(logging.Filter):
    """Blank ``token=…`` out of log records (uvicorn logs WebSocket paths with their query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with the token replaced by ``***``; never drop it."""
        message = record.getMessage()
        if "token=" in message:
            record.msg = _TOKEN_IN_URL.sub(r"\1***", message)
            record.args = None
        return True


def install_log_redaction() -> None:
    """Add the redactor to uvicorn's loggers once per process."""
    for name in ("uvicorn.error", "uvicorn.access", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) for f in logger.filters):
            logger.addFilter(TokenRedactor())
