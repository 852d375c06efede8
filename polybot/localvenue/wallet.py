"""The local venue's throwaway wallet: created on first use, funded with pUSD on every start.

A new user has no Polymarket wallet, so ``polybot sim`` makes one: a random secp256k1 key saved
with its address and derived API credentials in ``<data_dir>/local_wallet.json`` (mode 0600,
written atomically). PolyBot's clients read that file to trade on the local venue without any
setup. The key never leaves the file: nothing here prints or logs it, and ``repr`` hides it.
It is a *local* key — never fund it on a real chain.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from polybot.venues.polymarket.signer import PrivateKeySigner

WALLET_FILE = "local_wallet.json"


@dataclass(frozen=True, slots=True)
class LocalWallet:
    """The throwaway EOA and, once bootstrapped, its L2 API credentials."""

    address: str
    private_key: str = field(repr=False)
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    api_passphrase: str = field(default="", repr=False)

    @property
    def signer(self) -> PrivateKeySigner:
        """Return a signer for this wallet's key."""
        return PrivateKeySigner(self.private_key)


def wallet_path(data_dir: Path) -> Path:
    """Return where the wallet file lives."""
    return data_dir / WALLET_FILE


def _write_private(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(tmp, 0o600)   # umask cannot widen it, but an existing tmp file might have
    tmp.replace(path)


def load_wallet(data_dir: Path) -> LocalWallet | None:
    """Return the saved wallet, or None if there is none yet."""
    path = wallet_path(data_dir)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return LocalWallet(
        address=str(data["address"]), private_key=str(data["private_key"]),
        api_key=str(data.get("api_key", "")), api_secret=str(data.get("api_secret", "")),
        api_passphrase=str(data.get("api_passphrase", "")),
    )


def load_or_create_wallet(data_dir: Path) -> tuple[LocalWallet, bool]:
    """Return ``(wallet, created)``; a new key is generated and saved on first use."""
    existing = load_wallet(data_dir)
    if existing is not None:
        return existing, False
    private_key = "0x" + secrets.token_bytes(32).hex()
    wallet = LocalWallet(address=PrivateKeySigner(private_key).address, private_key=private_key)
    save_wallet(data_dir, wallet)
    return wallet, True


def save_wallet(data_dir: Path, wallet: LocalWallet) -> None:
    """Write the wallet file (0600)."""
    _write_private(wallet_path(data_dir), {
        "address": wallet.address,
        "private_key": wallet.private_key,
        "api_key": wallet.api_key,
        "api_secret": wallet.api_secret,
        "api_passphrase": wallet.api_passphrase,
        "note": "Local venue throwaway wallet. Never fund this key on a real chain.",
    })


def with_credentials(wallet: LocalWallet, api_key: str, secret: str, passphrase: str) -> LocalWallet:
    """Return the wallet with its API credentials filled in."""
    return LocalWallet(
        address=wallet.address, private_key=wallet.private_key, api_key=api_key,
        api_secret=secret, api_passphrase=passphrase,
    )
