"""Structured service logs: one JSON object per line, with every known secret redacted.

Redaction is by value (the configured key, API secret and passphrase, however they were
formatted) and by shape (anything that looks like a 32-byte hex private key), so a secret that
slips into a message or an exception is masked before it reaches the file.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable

from polybot.config import Settings

_PRIVATE_KEY_SHAPE = re.compile(r"\b(0x)?[0-9a-fA-F]{64}\b")
MASK = "**********"
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def secret_values(settings: Settings) -> list[str]:
    """Return the secret strings configured in ``settings`` (with and without a 0x prefix)."""
    creds = settings.polymarket
    values: list[str] = []
    for secret in (creds.private_key, creds.api_secret, creds.api_passphrase):
        if secret is not None and secret.get_secret_value():
            raw = secret.get_secret_value()
            values.extend({raw, raw.removeprefix("0x")})
    return [value for value in values if len(value) >= 6]


class SecretRedactor(logging.Filter):
    """Mask secrets in a record's message, arguments and extra fields."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        # Transaction and order hashes are also 32 bytes of hex; only mask what follows "key".
        return _PRIVATE_KEY_SHAPE.sub(
            lambda m: (
                MASK if "key" in text[max(0, m.start() - 20) : m.start()].lower() else m.group(0)
            ),
            text,
        )

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, service, logger, msg, extra fields, exception."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        )
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, default=str)


def configure_logging(service: str, settings: Settings) -> None:
    """Send this process's logs to stderr as redacted JSON lines (the supervisor files them)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(SecretRedactor(secret_values(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
