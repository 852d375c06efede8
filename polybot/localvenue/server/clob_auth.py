"""CLOB authentication on the venue side (reference §3.2): API keys, L1 and L2 checks.

API keys are derived, not stored: ``(address, nonce)`` plus the venue's secret determine the key
uuid, the HMAC secret and the passphrase, so ``GET /auth/derive-api-key`` returns the same
credentials every time and across restarts (the venue secret lives in ``data_dir``). Which keys
are *active* is the only state; it is kept in memory and, when a ``data_dir`` is given, in a small
JSON file next to the secret (addresses and nonces only — secrets are always re-derived).

The signature checks use PolyBot's own ``polybot.venues.polymarket.auth`` — the same code that
builds the headers on the client side — against the raw request: the L2 HMAC covers
``timestamp + METHOD + path (no query) + exact body bytes``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request

from polybot.localvenue.server import errors
from polybot.localvenue.server.errors import VenueHTTPError
from polybot.venues.polymarket import auth
from polybot.venues.polymarket.signer import to_checksum_address

SECRET_FILE = "localvenue_secret"
KEYS_FILE = "localvenue_api_keys.json"
# Clocks drift and requests queue; five minutes either way is generous but still rejects replays
# of old captures. Timestamps are checked against wall time *and* the venue clock, so clients
# that sign with ``/time`` keep working while time is accelerated.
DEFAULT_AUTH_WINDOW_S = 300


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One set of L2 credentials and who owns it. ``repr`` never shows the secrets."""

    api_key: str
    secret: str
    passphrase: str
    address: str   # checksummed EOA
    nonce: int

    def __repr__(self) -> str:
        return f"ApiKeyRecord(api_key={self.api_key}, address={self.address}, nonce={self.nonce})"

    def to_response(self) -> dict[str, str]:
        """Return the ``/auth/api-key`` response body."""
        return {"apiKey": self.api_key, "secret": self.secret, "passphrase": self.passphrase}


def load_or_create_secret(data_dir: Path | None) -> bytes:
    """Return the venue's 32-byte key-derivation secret, creating it (mode 0600) if needed."""
    if data_dir is None:
        return secrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if path.exists():
        raw = bytes.fromhex(path.read_text().strip())
        if len(raw) == 32:
            return raw
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value.hex())
    return value


class ApiKeyStore:
    """Derives, activates and looks up API keys.

    ``on_activate`` / ``on_revoke`` let the exchange core learn which address owns which key
    (it needs that to enforce "the order owner has to be the owner of the API KEY").
    """

    def __init__(
        self,
        secret: bytes,
        *,
        data_dir: Path | None = None,
        on_activate: Callable[[ApiKeyRecord], None] | None = None,
        on_revoke: Callable[[ApiKeyRecord], object] | None = None,
    ) -> None:
        self._secret = secret
        self._path = data_dir / KEYS_FILE if data_dir is not None else None
        self._on_activate = on_activate
        self._on_revoke = on_revoke
        self._active: dict[str, ApiKeyRecord] = {}
        if self._path is not None and self._path.exists():
            for address, nonce in json.loads(self._path.read_text()):
                self._activate(self.derive(address, int(nonce)), persist=False)

    def derive(self, address: str, nonce: int) -> ApiKeyRecord:
        """Return the credentials ``(address, nonce)`` always maps to (active or not)."""
        checksummed = to_checksum_address(address)
        seed = f"{checksummed.lower()}:{nonce}".encode()

        def part(label: bytes) -> bytes:
            return hmac.new(self._secret, label + b"|" + seed, hashlib.sha256).digest()

        return ApiKeyRecord(
            api_key=str(uuid.UUID(bytes=part(b"key")[:16], version=4)),
            secret=base64.urlsafe_b64encode(part(b"secret")).decode("ascii"),
            passphrase=part(b"passphrase").hex(),
            address=checksummed,
            nonce=nonce,
        )

    def subkey(self, label: str) -> bytes:
        """Return a 32-byte key for another purpose (e.g. signing cursors), derived from the secret."""
        return hmac.new(self._secret, b"subkey|" + label.encode(), hashlib.sha256).digest()

    def create(self, address: str, nonce: int) -> ApiKeyRecord:
        """``POST /auth/api-key``: activate a new key; 400 if this nonce already has one."""
        record = self.derive(address, nonce)
        if record.api_key in self._active:
            raise VenueHTTPError(errors.COULD_NOT_CREATE_KEY, 400)
        self._activate(record, persist=True)
        return record

    def existing(self, address: str, nonce: int) -> ApiKeyRecord:
        """``GET /auth/derive-api-key``: return the active key of this nonce; 400 if none."""
        record = self.derive(address, nonce)
        if record.api_key not in self._active:
            raise VenueHTTPError(errors.COULD_NOT_DERIVE_KEY, 400)
        return record

    def ensure(self, address: str, nonce: int = 0) -> ApiKeyRecord:
        """Activate (if needed) and return the key of ``(address, nonce)`` — wallet bootstrap."""
        record = self.derive(address, nonce)
        if record.api_key not in self._active:
            self._activate(record, persist=True)
        return record

    def lookup(self, api_key: str) -> ApiKeyRecord | None:
        """Return the active key with this id, or None."""
        return self._active.get(api_key)

    def keys_of(self, address: str) -> list[str]:
        """Return the active key ids of ``address``."""
        low = address.lower()
        return [r.api_key for r in self._active.values() if r.address.lower() == low]

    def revoke(self, api_key: str) -> bool:
        """``DELETE /auth/api-key``: deactivate a key; return whether it was active."""
        record = self._active.pop(api_key, None)
        if record is None:
            return False
        self._persist()
        if self._on_revoke is not None:
            self._on_revoke(record)
        return True

    def _activate(self, record: ApiKeyRecord, *, persist: bool) -> None:
        self._active[record.api_key] = record
        if persist:
            self._persist()
        if self._on_activate is not None:
            self._on_activate(record)

    def _persist(self) -> None:
        if self._path is None:
            return
        rows = [[r.address, r.nonce] for r in self._active.values()]
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(self._path)


class Authenticator:
    """Checks L1 and L2 headers of incoming requests against an :class:`ApiKeyStore`."""

    def __init__(
        self,
        keys: ApiKeyStore,
        *,
        chain_id: int,
        venue_now_s: Callable[[], float],
        window_s: int | None = DEFAULT_AUTH_WINDOW_S,
        wall_now_s: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.chain_id = chain_id
        self.window_s = window_s
        self._venue_now_s = venue_now_s
        self._wall_now_s = wall_now_s

    def _fresh(self, timestamp: str) -> bool:
        if self.window_s is None:
            return True
        try:
            ts = int(timestamp)
        except ValueError:
            return False
        return any(
            abs(ts - now()) <= self.window_s for now in (self._wall_now_s, self._venue_now_s)
        )

    def l1(self, request: Request) -> tuple[str, int]:
        """Verify ClobAuth headers; return ``(checksummed address, nonce)`` or raise 401."""
        headers = request.headers
        address = headers.get(auth.POLY_ADDRESS, "")
        signature = headers.get(auth.POLY_SIGNATURE, "")
        timestamp = headers.get(auth.POLY_TIMESTAMP, "")
        nonce_text = headers.get(auth.POLY_NONCE, "0") or "0"
        if not (address and signature and timestamp) or not self._fresh(timestamp):
            raise VenueHTTPError(errors.INVALID_L1_HEADERS, 401)
        try:
            nonce = int(nonce_text)
            checksummed = to_checksum_address(address)
        except ValueError:
            raise VenueHTTPError(errors.INVALID_L1_HEADERS, 401) from None
        # The struct hashes the timestamp *text*, so verify against the header exactly as sent.
        if not auth.verify_clob_auth(signature, checksummed, timestamp, nonce, self.chain_id):
            raise VenueHTTPError(errors.INVALID_L1_HEADERS, 401)
        return checksummed, nonce

    async def l2(self, request: Request) -> ApiKeyRecord:
        """Verify the five ``POLY_*`` L2 headers and the HMAC; return the key or raise 401."""
        headers = request.headers
        api_key = headers.get(auth.POLY_API_KEY, "")
        passphrase = headers.get(auth.POLY_PASSPHRASE, "")
        address = headers.get(auth.POLY_ADDRESS, "")
        timestamp = headers.get(auth.POLY_TIMESTAMP, "")
        signature = headers.get(auth.POLY_SIGNATURE, "")
        record = self.keys.lookup(api_key)
        if (
            record is None
            or not (address and timestamp and signature)
            or not hmac.compare_digest(record.passphrase.encode(), passphrase.encode())
            or address.lower() != record.address.lower()
            or not self._fresh(timestamp)
        ):
            raise VenueHTTPError(errors.UNAUTHORIZED, 401)
        body = await request.body()
        try:
            valid = auth.verify_l2_signature(
                record.secret, timestamp, request.method, request.url.path, body or None, signature,
            )
        except ValueError:
            valid = False
        if not valid:
            raise VenueHTTPError(errors.UNAUTHORIZED, 401)
        return record
