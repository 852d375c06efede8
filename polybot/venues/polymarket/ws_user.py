"""User-channel client: our order and trade events, with our own fills picked out.

The socket (auth frame, text ``PING``, stale detection, reconnect with backoff) is a
:class:`~polybot.venues.polymarket.ws_market.ChannelConnection`. Trade events arrive once per
status (MATCHED → MINED → CONFIRMED, or RETRYING / FAILED); :class:`TradeLifecycle` says which
sighting is the first (count the size once) and which is final.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from polybot.bus.messages import Fill, OrderUpdate
from polybot.core.errors import VenueError
from polybot.model.fees import NO_FEES, FeeSchedule, taker_fee
from polybot.venues.polymarket.contracts import WS_USER_URL
from polybot.venues.polymarket.ws_market import ChannelConnection, ConnectionConfig
from polybot.venues.polymarket.ws_parse import (
    OrderEvent,
    Side,
    TradeEvent,
    UnknownEvent,
    parse_user_message,
    split_frame,
)

log = logging.getLogger(__name__)

TERMINAL_TRADE_STATUSES = frozenset({"CONFIRMED", "FAILED"})
# Allowed next statuses; RETRYING goes back to MINED/CONFIRMED or ends FAILED.
_NEXT: dict[str, frozenset[str]] = {
    "MATCHED": frozenset({"MINED", "CONFIRMED", "RETRYING", "FAILED"}),
    "MINED": frozenset({"CONFIRMED", "RETRYING", "FAILED"}),
    "RETRYING": frozenset({"RETRYING", "MINED", "CONFIRMED", "FAILED"}),
    "CONFIRMED": frozenset(),
    "FAILED": frozenset(),
}


@dataclass(frozen=True, slots=True)
class OwnFill:
    """One of *our* fills inside a trade event."""

    trade_id: str
    order_id: str
    market: str
    asset_id: str
    side: Side
    price: Decimal
    size: Decimal
    liquidity: Literal["MAKER", "TAKER"]
    status: str
    timestamp: int


def _opposite(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


def own_fills(
    trade: TradeEvent, *, api_key: str = "", addresses: Iterable[str] = (),
) -> list[OwnFill]:
    """Return our fills in ``trade``: the taker leg when ``trader_side`` is TAKER, plus every maker
    order owned by ``api_key`` or one of ``addresses``.

    A maker order on the same token as the taker traded the opposite side; one on the
    complementary token (price 1−p) traded the *same* side, because BUY YES @p crosses BUY NO @1−p
    by minting (reference §9.6). An explicit ``side`` in ``maker_orders`` wins when present.
    """
    wallets = {a.lower() for a in addresses}
    fills: list[OwnFill] = []
    if trade.trader_side == "TAKER":
        fills.append(OwnFill(
            trade.trade_id, trade.taker_order_id, trade.market, trade.asset_id, trade.side,
            trade.price, trade.size, "TAKER", trade.status, trade.timestamp,
        ))
    for maker in trade.maker_orders:
        mine = (api_key and maker.owner == api_key) or maker.maker_address.lower() in wallets
        if not mine:
            continue
        if maker.side is not None:
            side = maker.side
        elif maker.asset_id == trade.asset_id:
            side = _opposite(trade.side)
        else:
            side = trade.side
        fills.append(OwnFill(
            trade.trade_id, maker.order_id, trade.market, maker.asset_id, side, maker.price,
            maker.matched_amount, "MAKER", trade.status, trade.timestamp,
        ))
    return fills


def fill_to_bus(
    fill: OwnFill, *, client_order_id: str = "", strategy: str = "",
    fees: FeeSchedule = NO_FEES,
) -> Fill:
    """Return the bus ``fill`` for one of our fills (takers pay the market fee, makers none)."""
    fee = taker_fee(fill.size, fill.price, fees) if fill.liquidity == "TAKER" else Decimal(0)
    return Fill(
        market_id=fill.market, token_id=fill.asset_id, fill_id=fill.trade_id,
        order_id=fill.order_id, client_order_id=client_order_id, strategy=strategy,
        side=fill.side, price=fill.price, size=fill.size, fee=fee, liquidity=fill.liquidity,
        status=fill.status, timestamp=fill.timestamp,
    )


def order_to_bus(event: OrderEvent, *, client_order_id: str = "", strategy: str = "") -> OrderUpdate:
    """Return the bus ``order_update``; absent numbers become 0 and ``client_order_id`` falls back
    to the venue order id (the executor maps it back when it knows better)."""
    order_type = event.order_type if event.order_type in ("GTC", "GTD", "FOK", "FAK") else "GTC"
    return OrderUpdate(
        market_id=event.market, token_id=event.asset_id, order_id=event.order_id,
        client_order_id=client_order_id or event.order_id, strategy=strategy, side=event.side,
        price=event.price or Decimal(0), original_size=event.original_size or Decimal(0),
        size_matched=event.size_matched or Decimal(0), status=event.status_base,
        timestamp=event.timestamp, order_type=order_type,  # type: ignore[arg-type]
        reason=event.status_reason,
    )


@dataclass(frozen=True, slots=True)
class UserCredentials:
    """L2 API credentials; ``repr`` never shows the secret or passphrase."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class UserStreamConfig:
    """User-channel settings. Empty ``markets`` subscribes to all of our markets."""

    url: str = WS_USER_URL
    markets: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()    # our maker/funder addresses, to spot our maker fills
    ping_interval_s: float = 10.0
    stale_after_s: float = 30.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter: float = 0.5


@dataclass(frozen=True, slots=True)
class UserTrade:
    """A trade event with our fills in it and where it stands in its life cycle."""

    event: TradeEvent
    fills: tuple[OwnFill, ...]
    first_seen: bool               # first sighting of this trade id: count its size now
    previous_status: str | None
    terminal: bool                 # CONFIRMED or FAILED: nothing more will come
    in_order: bool                 # False when the status went backwards (late delivery)


UserOutput = OrderEvent | UserTrade | UnknownEvent


class TradeLifecycle:
    """Tracks each trade id's status so repeats are recognised and regressions flagged."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}
        self.out_of_order = 0

    def observe(self, event: TradeEvent, fills: tuple[OwnFill, ...]) -> UserTrade:
        """Record ``event`` and return it classified."""
        previous = self.status.get(event.trade_id)
        in_order = previous is None or event.status in _NEXT.get(previous, frozenset())
        if in_order:
            self.status[event.trade_id] = event.status
        else:
            self.out_of_order += 1   # keep the later state; a late MINED after CONFIRMED is noise
        return UserTrade(
            event=event, fills=fills, first_seen=previous is None, previous_status=previous,
            terminal=self.status[event.trade_id] in TERMINAL_TRADE_STATUSES, in_order=in_order,
        )


class UserStream:
    """Our orders and trades over the authenticated user channel."""

    def __init__(
        self, credentials: UserCredentials, config: UserStreamConfig | None = None, *,
        on_event: Callable[[UserOutput], Awaitable[None] | None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config or UserStreamConfig()
        self._creds = credentials
        self._markets = list(self.config.markets)
        self._on_event = on_event
        self._queue: asyncio.Queue[UserOutput | None] = asyncio.Queue()
        self.lifecycle = TradeLifecycle()
        self.parse_errors = 0
        cfg = self.config
        self.conn = ChannelConnection(
            ConnectionConfig(
                cfg.url, cfg.ping_interval_s, cfg.stale_after_s, cfg.backoff_initial_s,
                cfg.backoff_max_s, cfg.backoff_jitter,
            ),
            first_frame=self._auth_frame, on_frame=self._on_frame, rng=rng,
        )

    def _auth_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {
            "type": "user",
            "auth": {
                "apiKey": self._creds.api_key, "secret": self._creds.secret,
                "passphrase": self._creds.passphrase,
            },
        }
        if self._markets:   # omitted means every market of ours (reference §4.1)
            frame["markets"] = list(self._markets)
        return frame

    async def __aenter__(self) -> UserStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __aiter__(self) -> AsyncIterator[UserOutput]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[UserOutput]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def start(self) -> None:
        """Connect (in the background) and authenticate."""
        self.conn.start()

    async def stop(self) -> None:
        """Close the socket and end the async iterator."""
        await self.conn.stop()
        self._queue.put_nowait(None)

    async def subscribe(self, markets: Iterable[str]) -> None:
        """Add condition ids; they are also in the auth frame after a reconnect."""
        new = [m for m in markets if m not in self._markets]
        self._markets.extend(new)
        if new:
            await self.conn.send_json({"operation": "subscribe", "markets": new})

    async def unsubscribe(self, markets: Iterable[str]) -> None:
        """Remove condition ids."""
        gone = [m for m in markets if m in self._markets]
        self._markets = [m for m in self._markets if m not in gone]
        if gone:
            await self.conn.send_json({"operation": "unsubscribe", "markets": gone})

    async def _on_frame(self, text: str) -> None:
        try:
            items = split_frame(text)
        except VenueError as exc:
            self.parse_errors += 1
            log.warning("unparseable user frame: %s", exc)
            return
        for raw in items:
            try:
                event = parse_user_message(raw)
            except VenueError as exc:
                self.parse_errors += 1
                log.warning("bad user message: %s", exc)
                continue
            if isinstance(event, TradeEvent):
                fills = tuple(own_fills(
                    event, api_key=self._creds.api_key, addresses=self.config.addresses,
                ))
                await self._emit(self.lifecycle.observe(event, fills))
            else:
                await self._emit(event)

    async def _emit(self, out: UserOutput) -> None:
        if self._on_event is None:
            self._queue.put_nowait(out)   # unbounded: our own order flow is small and must not drop
            return
        try:
            result = self._on_event(out)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("user stream callback failed")
