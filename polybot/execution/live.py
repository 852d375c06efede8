"""``PolymarketVenue``: real signed orders to the configured CLOB, tracked over the user channel.

Idempotency comes from the order itself: its id is the EIP-712 digest of the signed struct, and
we make that struct a pure function of the journalled intent — the salt is drawn from an RNG
seeded with our ``client_order_id`` and the signed ``timestamp`` is the intent row's creation
time. A restarted executor therefore rebuilds *byte for byte* the order it may or may not have
sent, and the venue refuses a second copy as "Duplicated", which proves the first one arrived.

Requests go through the client's ``HttpClient`` (rate-limit buckets, retries where safe, circuit
breaker). A POST that timed out or got a 5xx may have been acted on, so it surfaces as
``SubmitUnknown`` and the executor resolves it by order-id lookup. Heartbeats keep the venue's
dead-man switch armed: if this process dies, the venue cancels our resting orders by itself.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import OrderedDict
from decimal import Decimal

from polybot.bus.messages import Fill, Message
from polybot.core.clock import ManualClock
from polybot.core.errors import OrderRejected, TemporaryVenueError
from polybot.execution.intake import OrderPlan
from polybot.execution.venue import SubmitResult, SubmitUnknown, VenueOrderState, VenueSink
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.model.market import Market
from polybot.venues.polymarket.clob import ClobClient
from polybot.venues.polymarket.errors import InvalidRequest
from polybot.venues.polymarket.orders import OrderBuilder, SignedOrder
from polybot.venues.polymarket.signer import PrivateKeySigner
from polybot.venues.polymarket.wire import ClobTrade
from polybot.venues.polymarket.ws_parse import MakerOrder, OrderEvent, Side, TradeEvent
from polybot.venues.polymarket.ws_user import (
    UserCredentials,
    UserOutput,
    UserStream,
    UserStreamConfig,
    UserTrade,
    fill_to_bus,
    order_to_bus,
    own_fills,
)

log = logging.getLogger(__name__)

_DUPLICATED = "duplicated"
SIGNED_KEPT = 1024  # signed orders waiting for their submit (more would mean submits are stuck)


def trade_event(trade: ClobTrade) -> TradeEvent:
    """Return the user-channel shape of a REST trade (so one function finds our fills in both)."""
    side: Side = "SELL" if trade.side.upper() == "SELL" else "BUY"
    makers = tuple(
        MakerOrder(
            order_id=m.order_id,
            owner=m.owner,
            maker_address=m.maker_address,
            matched_amount=m.matched_amount,
            price=m.price,
            asset_id=m.asset_id,
            outcome=m.outcome,
            side=("SELL" if m.side.upper() == "SELL" else "BUY") if m.side else None,
            fee_rate_bps=int(m.fee_rate_bps),
        )
        for m in trade.maker_orders
    )
    return TradeEvent(
        trade_id=trade.id,
        taker_order_id=trade.taker_order_id,
        market=trade.market,
        asset_id=trade.asset_id,
        side=side,
        price=trade.price,
        size=trade.size,
        status=trade.plain_status,
        trader_side=trade.trader_side,
        owner=trade.owner,
        trade_owner=trade.owner,
        maker_address=trade.maker_address,
        outcome=trade.outcome,
        fee_rate_bps=int(trade.fee_rate_bps),
        match_time_ms=trade.match_time * 1000,
        timestamp=(trade.last_update or trade.match_time) * 1000,
        transaction_hash=trade.transaction_hash,
        maker_orders=makers,
    )


class PolymarketVenue:
    """The ``Venue`` protocol over the CLOB REST client and the user WebSocket channel."""

    name = "polymarket"

    def __init__(
        self,
        clob: ClobClient,
        signer: PrivateKeySigner,
        *,
        user_ws_url: str,
        chain_id: int,
        signature_type: int = 0,
        funder: str | None = None,
    ) -> None:
        creds = clob.creds
        if creds is None:
            raise ValueError("the live venue needs L2 API credentials")
        self.clob = clob
        self._signer = signer
        self._chain_id = chain_id
        self._signature_type = signature_type
        self._funder = funder
        maker = OrderBuilder(
            signer, chain_id=chain_id, signature_type=signature_type, funder=funder
        )
        self.account = maker.maker.lower()
        self._api_key = creds.api_key
        self._fees: dict[str, FeeSchedule] = {}
        self._heartbeat_id = ""
        self._sink: VenueSink | None = None
        # Orders signed for their id at decision time, sent moments later: sign once.
        self._signed_orders: OrderedDict[tuple[str, int], SignedOrder] = OrderedDict()
        self.stream = UserStream(
            UserCredentials(creds.api_key, creds.secret, creds.passphrase),
            UserStreamConfig(url=user_ws_url, addresses=(self.account,)),
            on_event=self._on_user_event,
        )

    async def start(self, sink: VenueSink) -> None:
        """Connect the user channel (all our markets) and arm the dead-man switch."""
        self._sink = sink
        await self.stream.start()
        await self.maintain()

    def _signed(self, plan: OrderPlan, created_ms: int) -> SignedOrder:
        seed = int.from_bytes(hashlib.sha256(plan.client_order_id.encode()).digest()[:8], "big")
        builder = OrderBuilder(
            self._signer,
            chain_id=self._chain_id,
            signature_type=self._signature_type,
            funder=self._funder,
            rng=random.Random(seed),  # a deterministic salt, not a secret
            clock=ManualClock(created_ms * 1_000_000),
        )
        return builder.build_limit_order(
            token_id=plan.token_id,
            side=plan.side,
            price=plan.price,
            size=plan.size,
            tick_size=plan.tick_size,
            neg_risk=plan.neg_risk,
            market_version=plan.protocol_version,
            order_type=plan.order_type,
            expiration=plan.expiration,
            post_only=plan.post_only,
        )

    def order_id_for(self, plan: OrderPlan, created_ms: int) -> str:
        """Return the digest the signed order will have (and keep the order for the submit)."""
        order = self._signed(plan, created_ms)
        self._signed_orders[(plan.client_order_id, created_ms)] = order
        while len(self._signed_orders) > SIGNED_KEPT:
            self._signed_orders.popitem(last=False)
        return order.order_id

    async def submit(self, plan: OrderPlan, created_ms: int) -> SubmitResult:
        """Post the signed order under the client's rate limiter (signing it if not yet)."""
        order = self._signed_orders.pop((plan.client_order_id, created_ms), None)
        if order is None:
            order = self._signed(plan, created_ms)
        self._fees[plan.market_id] = plan.fee_schedule
        try:
            response = await self.clob.post_order(order)
        except OrderRejected as exc:
            if _DUPLICATED in str(exc).lower():
                return SubmitResult(order.order_id, "DUPLICATE")
            raise
        except TemporaryVenueError as exc:
            raise SubmitUnknown(str(exc)) from exc
        return SubmitResult(response.order_id or order.order_id, response.status.upper() or "LIVE")

    async def lookup(self, venue_order_id: str, market_id: str) -> VenueOrderState:
        """Ask the venue about one order: active state, then its trades."""
        active = await self.clob.get_order(venue_order_id)
        fills = tuple(
            f for f in await self._fills(market=market_id) if f.order_id == venue_order_id
        )
        matched = sum((f.size for f in fills), Decimal(0))
        if active is not None:
            return VenueOrderState(venue_order_id, "LIVE", max(active.size_matched, matched), fills)
        return VenueOrderState(venue_order_id, "MATCHED" if fills else "UNKNOWN", matched, fills)

    async def _fills(self, **filters: str) -> list[Fill]:
        fills: list[Fill] = []
        async for trade in self.clob.iter_trades(**filters):  # type: ignore[arg-type]
            event = trade_event(trade)
            owned = own_fills(event, api_key=self._api_key, addresses=(self.account,))
            fills.extend(fill_to_bus(o, fees=self._fees.get(o.market, NO_FEES)) for o in owned)
        return fills

    async def cancel(self, venue_order_ids: list[str]) -> list[str]:
        """Cancel orders by venue id."""
        if not venue_order_ids:
            return []
        return list((await self.clob.cancel_orders(venue_order_ids)).canceled)

    async def cancel_all(self) -> list[str]:
        """Cancel every open order of this API key."""
        return list((await self.clob.cancel_all()).canceled)

    async def open_orders(self) -> dict[str, Decimal]:
        """Return our open orders: venue id → size matched."""
        return {o.id: o.size_matched for o in await self.clob.get_open_orders()}

    async def recent_fills(self) -> list[Fill]:
        """Return our fills from ``/data/trades``."""
        return await self._fills()

    async def balance(self) -> Decimal:
        """Return the collateral balance (base units → pUSD)."""
        raw = await self.clob.get_balance_allowance("COLLATERAL")
        return Decimal(raw.balance).scaleb(-6)

    def on_market_data(self, message: Message) -> None:
        """The venue matches for real: market data is not needed here."""

    def add_market(self, market: Market) -> None:
        """Remember the market's fee schedule (fees of our taker fills)."""
        self._fees[market.condition_id] = market.fee_schedule

    async def maintain(self) -> None:
        """Send a heartbeat; adopt the venue's expected id when ours is stale (after a restart)."""
        try:
            self._heartbeat_id = await self.clob.post_heartbeat(self._heartbeat_id)
        except InvalidRequest as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            expected = str(body.get("heartbeat_id", ""))
            self._heartbeat_id = await self.clob.post_heartbeat(expected)

    async def close(self) -> None:
        """Close the user channel and the HTTP client."""
        await self.stream.stop()
        await self.clob.aclose()

    def _on_user_event(self, event: UserOutput) -> None:
        sink = self._sink
        if sink is None:
            return
        if isinstance(event, OrderEvent):
            sink.on_order_update(order_to_bus(event))
        elif isinstance(event, UserTrade):
            for own in event.fills:
                sink.on_fill(fill_to_bus(own, fees=self._fees.get(own.market, NO_FEES)))
