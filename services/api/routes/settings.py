"""The effective settings, with every secret masked."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from polybot.config.settings import masked_settings
from services.api.deps import CtxDep

router = APIRouter(tags=["settings"])

MASK = "**********"
# Not SecretStr in settings, but still credentials: never sent to a browser.
_SENSITIVE = ("key", "secret", "passphrase", "password", "token")


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (MASK if v is not None and any(w in k.lower() for w in _SENSITIVE) else _mask(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


@router.get("/settings", response_model=dict[str, Any])
def get_settings(ctx: CtxDep) -> dict[str, Any]:
    """Return the effective settings (env + config file + defaults); secrets are masked."""
    masked: dict[str, Any] = _mask(masked_settings(ctx.settings))
    return masked
