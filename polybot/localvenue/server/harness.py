"""Run a local venue under uvicorn on an ephemeral loopback port in a background thread.

For tests, notebooks and benchmarks that need a real server (real sockets, real HTTP/WS) without
a subprocess::

    with VenueServer(build_venue(VenueConfig(markets=20, data_dir=None))) as server:
        httpx.get(server.url + "/book", params={"token_id": ...})

The exchange then lives on the server thread's event loop; talk to it over HTTP (or the admin
API) rather than calling it from the test thread while the server runs.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from polybot.localvenue.lifecycle import LifecycleConfig
from polybot.localvenue.server.run import Venue, VenueConfig
from polybot.venues.polymarket import auth, eip712
from polybot.venues.polymarket.contracts import ZERO_BYTES32
from polybot.venues.polymarket.signer import PrivateKeySigner

STARTUP_TIMEOUT_S = 20.0


def quick_config(**overrides: object) -> VenueConfig:
    """Return a small, quiet venue config for tests: ~24 markets, no flow, no wallet file,
    trades MINED after 0.2 s and CONFIRMED after 0.4 s (the SDK waits for MINED)."""
    values: dict[str, object] = {
        "markets": 24, "data_dir": None, "flow": False,
        "lifecycle": LifecycleConfig(mined_after_s=0.2, confirmed_after_s=0.4),
    }
    values.update(overrides)
    return VenueConfig(**values)  # type: ignore[arg-type]


class VenueServer:
    """A context manager serving ``venue.app`` on ``127.0.0.1:<ephemeral port>``."""

    def __init__(self, venue: Venue, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.venue = venue
        self.host = host
        self._server = uvicorn.Server(uvicorn.Config(
            venue.app, host=host, port=port, log_level="warning", ws="websockets-sansio",
            lifespan="on",
        ))
        self._thread = threading.Thread(target=self._run, name="local-venue", daemon=True)
        self.port = 0
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # surfaced to the starting thread by start()
            self._error = exc

    def start(self) -> VenueServer:
        """Start serving and wait until the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"local venue failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("local venue did not start in time")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:<port>`` (the CLOB root)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Return ``ws://127.0.0.1:<port>`` (append ``/ws/market`` or ``/ws/user``)."""
        return f"ws://{self.host}:{self.port}"

    def __enter__(self) -> VenueServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalTrader:
    """A fresh funded wallet with API creds that posts hand-built order JSON.

    For conformance tests and notebooks that need to break one order rule at a time: every
    keyword of :meth:`order` changes one thing (owner, signer, exchange domain, amounts).
    """

    def __init__(self, http: httpx.Client, fund: str = "100", chain_id: int = 137) -> None:
        self.http = http
        self.chain_id = chain_id
        self.signer = PrivateKeySigner("0x" + secrets.token_hex(32))
        funded = http.post("/_polybot/admin/fund",
                           json={"address": self.signer.address, "amount": fund})
        funded.raise_for_status()
        response = http.post("/auth/api-key", headers=auth.l1_headers(self.signer, chain_id))
        response.raise_for_status()
        self.creds = auth.ApiCreds.from_response(response.json())
        self._versions: dict[str, str] = {}

    def protocol_version(self, condition_id: str) -> str:
        """Return the market's Gamma ``version`` (``v2`` markets sign for ExchangeV3)."""
        if condition_id not in self._versions:
            rows = self.http.get("/gamma/markets", params={"condition_ids": condition_id}).json()
            self._versions[condition_id] = rows[0]["version"] if rows else "v1"
        return self._versions[condition_id]

    @property
    def address(self) -> str:
        """The wallet address."""
        return self.signer.address

    def order(
        self, market: dict[str, Any], *, price: float, size: float, side: str = "BUY",
        outcome: int = 0, neg_risk: bool | None = None, owner: str | None = None,
        signer: PrivateKeySigner | None = None, order_type: str = "GTC",
    ) -> dict[str, Any]:
        """Return a signed ``POST /order`` body for a CLOB market object (``/markets`` row)."""
        shares, cash = round(size * 1_000_000), round(size * price * 1_000_000)
        who = signer or self.signer
        struct = eip712.OrderStruct(
            salt=secrets.randbits(40), maker=who.address, signer=who.address,
            token_id=int(market["tokens"][outcome]["token_id"]),
            maker_amount=cash if side == "BUY" else shares,
            taker_amount=shares if side == "BUY" else cash,
            side=eip712.SIDE_BUY if side == "BUY" else eip712.SIDE_SELL, signature_type=0,
            timestamp=int(time.time() * 1000),
        )
        domain = eip712.select_exchange(
            neg_risk=market["neg_risk"] if neg_risk is None else neg_risk,
            market_version=self.protocol_version(market["condition_id"]), chain_id=self.chain_id)
        return {
            "order": {
                "salt": struct.salt, "maker": struct.maker, "signer": struct.signer,
                "tokenId": str(struct.token_id), "makerAmount": str(struct.maker_amount),
                "takerAmount": str(struct.taker_amount), "side": side, "expiration": "0",
                "signatureType": 0, "timestamp": str(struct.timestamp),
                "metadata": ZERO_BYTES32, "builder": ZERO_BYTES32,
                "signature": eip712.sign_order(struct, who, domain),
            },
            "owner": owner or self.creds.api_key, "orderType": order_type, "deferExec": False,
            "postOnly": False,
        }

    def request(self, method: str, path: str, payload: Any = None) -> httpx.Response:
        """Send an L2-signed request; ``payload`` is JSON-encoded compactly, as the SDKs do."""
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        headers = auth.l2_headers(self.signer.address, self.creds, method, path, body)
        return self.http.request(method, path, content=body, headers=headers)

    def post(self, path: str, payload: Any) -> httpx.Response:
        """``POST`` with L2 headers."""
        return self.request("POST", path, payload)
