"""Start a complete local venue: world, exchange, flow, wallet bootstrap and the HTTP/WS server.

:func:`build_venue` assembles everything without serving (tests and benchmarks use it with their
own uvicorn); :func:`serve` is what ``polybot sim`` runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from polybot.core.money import to_base_units
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.flow import Flow, FlowConfig
from polybot.localvenue.lifecycle import LifecycleConfig
from polybot.localvenue.server.app import AppOptions, build_context, create_app
from polybot.localvenue.server.clock import VenueClock
from polybot.localvenue.server.context import VenueContext
from polybot.localvenue.wallet import (
    LocalWallet,
    load_or_create_wallet,
    save_wallet,
    with_credentials,
)
from polybot.localvenue.world import WorldConfig, build_world, seed_exchange
from polybot.venues.polymarket.signer import to_checksum_address

log = logging.getLogger(__name__)
# Neg-risk events have 3..12 outcomes (7.5 on average); one in ~40 markets belongs to one.
_NEG_RISK_SHARE = 40
_AVG_OUTCOMES = 7


@dataclass(slots=True, kw_only=True)
class VenueConfig:
    """Everything ``polybot sim`` can set."""

    host: str = "127.0.0.1"
    port: int = 8790
    seed: int = 7
    markets: int = 300
    speed: float = 1.0
    data_dir: Path | None = Path("data")
    wallet_fund: Decimal = Decimal(10_000)
    fund: dict[str, Decimal] = field(default_factory=dict)   # extra addresses to fund
    flow: bool = True
    flow_actions_per_s: float = 5.0
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    app: AppOptions = field(default_factory=AppOptions)


@dataclass(slots=True)
class Venue:
    """A built venue: the ASGI app plus handles tests and the CLI need."""

    app: FastAPI
    context: VenueContext
    exchange: Exchange
    clock: VenueClock
    wallet: LocalWallet | None
    flow: Flow | None


def world_config(seed: int, markets: int) -> WorldConfig:
    """Return a world of about ``markets`` markets (binary plus neg-risk event members)."""
    n_neg = markets // _NEG_RISK_SHARE
    n_binary = max(1, markets - n_neg * _AVG_OUTCOMES)
    return WorldConfig(seed=seed, n_binary=n_binary, n_neg_risk_events=n_neg)


def build_venue(config: VenueConfig) -> Venue:
    """Build the world, exchange, server context, flow and (with a data dir) the local wallet."""
    clock = VenueClock(config.speed)
    exchange = Exchange(clock, lifecycle=config.lifecycle)
    world = build_world(world_config(config.seed, config.markets))
    seed_exchange(exchange, world)
    options = dataclasses.replace(config.app, data_dir=config.data_dir, seed=config.seed)
    context = build_context(exchange, options)
    for address, amount in config.fund.items():
        exchange.fund(to_checksum_address(address), to_base_units(amount))
    wallet = None
    if config.data_dir is not None:
        wallet = bootstrap_wallet(context, config.data_dir, config.wallet_fund)
    flow = None
    background: list[Callable[[], object]] = []
    if config.flow:
        flow = Flow(exchange, world, FlowConfig(actions_per_s=config.flow_actions_per_s))
        background.append(flow.run_until_now)
    app = create_app(exchange, options, background=background, context=context)
    return Venue(app, context, exchange, clock, wallet, flow)


def bootstrap_wallet(context: VenueContext, data_dir: Path, fund: Decimal) -> LocalWallet:
    """Create (first run) or load the local wallet, activate its API key and fund it."""
    wallet, _ = load_or_create_wallet(data_dir)
    record = context.keys.ensure(wallet.address, 0)
    if (wallet.api_key, wallet.api_secret, wallet.api_passphrase) != (
        record.api_key, record.secret, record.passphrase
    ):
        wallet = with_credentials(wallet, record.api_key, record.secret, record.passphrase)
        save_wallet(data_dir, wallet)
    if fund > 0:
        context.exchange.fund(wallet.address, to_base_units(fund))
    return wallet


def serve(config: VenueConfig, *, echo: Callable[[str], None] = print) -> None:
    """Build the venue and serve it until interrupted; print where it listens (never the key).

    ``port=0`` picks a free port; the lines printed name the one actually bound.
    """
    venue = build_venue(config)
    server = uvicorn.Server(uvicorn.Config(
        venue.app, host=config.host, port=config.port, log_level="warning",
        ws="websockets-sansio", lifespan="on",
    ))

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        port = int(server.servers[0].sockets[0].getsockname()[1])
        for line in banner(venue, config, port):
            echo(line)

    async def main() -> None:
        task = asyncio.create_task(announce())
        try:
            await server.serve()
        finally:
            task.cancel()

    asyncio.run(main())


def banner(venue: Venue, config: VenueConfig, port: int) -> list[str]:
    """Return the startup lines: URLs, universe size and the wallet address (never its key)."""
    base = f"http://{config.host}:{port}"
    ws = f"ws://{config.host}:{port}"
    lines = [
        f"local Polymarket venue listening on {base}  ({len(venue.exchange.markets())} markets, "
        f"seed {config.seed}, speed x{config.speed})",
        f"  CLOB {base}   Gamma {base}/gamma   Data API {base}/data-api",
        f"  WS   {ws}/ws/market   {ws}/ws/user",
        f"  admin {base}/_polybot/admin/state  (loopback only)",
    ]
    if venue.wallet is not None and config.data_dir is not None:
        lines.append(
            f"  wallet {venue.wallet.address}  funded {config.wallet_fund} pUSD  "
            f"(key and API creds in {config.data_dir / 'local_wallet.json'}, mode 0600)"
        )
    return lines
