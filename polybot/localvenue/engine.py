"""The exchange core's implementation; :class:`~polybot.localvenue.exchange.Exchange` is its face.

Split out so the public surface stays readable: this module owns order handling, settlement and
the WS event fan-out; :mod:`polybot.localvenue.market_data` builds books and hashes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from decimal import Decimal

from polybot.core.clock import Clock
from polybot.localvenue.accounts import Accounts, AssetType, BalanceView
from polybot.localvenue.events import OrderEvent, TradeEvent, VenueEvent
from polybot.localvenue.heartbeats import HeartbeatResult, Heartbeats
from polybot.localvenue.lifecycle import (
    FailureHook,
    LifecycleConfig,
    MakerLeg,
    TradeLifecycle,
    TradeRecord,
)
from polybot.localvenue.market_data import MarketData
from polybot.localvenue.markets import EventSpec, MarketSpec, MarketState
from polybot.localvenue.orders import (
    GTD_BUFFER_S,
    MIN_MARKETABLE_NOTIONAL,
    CancelResult,
    Msg,
    OrderBookSummary,
    OrderRecord,
    OrderResult,
    OrderStatus,
    OrderTerms,
    PostOrder,
    TradingMode,
    fmt_decimal,
    fmt_price,
    fmt_units,
    on_grid,
    order_terms,
    rejection,
)
from polybot.model.fees import fee_rate_bps
from polybot.venues.sim.book import Book, LevelChange, Side, Token
from polybot.venues.sim.matcher import (
    Fill,
    OrderIntent,
    Reject,
    TimeInForce,
    crossable_size,
    fee_units,
    match,
    settlement,
)

_NS = 1_000_000_000
_HALF = Decimal("0.5")


class Engine(MarketData):
    """State and behaviour behind :class:`Exchange` (see there for the contract)."""

    def __init__(
        self,
        clock: Clock,
        *,
        lifecycle: LifecycleConfig,
        failure_hook: FailureHook | None,
        operator: str,
        heartbeat_timeout_s: float,
    ) -> None:
        super().__init__(clock)
        self.accounts = Accounts()
        self.lifecycle = TradeLifecycle(lifecycle, failure_hook)
        self.heartbeats = Heartbeats(int(heartbeat_timeout_s * _NS))
        self.operator = operator.lower()
        self.mode = TradingMode.NORMAL
        self.events: dict[str, EventSpec] = {}
        self.api_keys: dict[str, str] = {}
        self.orders: dict[str, OrderRecord] = {}
        # Open orders, and the same records indexed so that cancels and lookups cost what they
        # touch: each index keeps placement order, as ``_open`` does (events stay in order).
        self._open: dict[str, OrderRecord] = {}
        self._open_by_market: dict[str, dict[str, OrderRecord]] = {}
        self._open_by_address: dict[str, dict[str, OrderRecord]] = {}
        self._open_by_api_key: dict[str, dict[str, OrderRecord]] = {}
        self._gtd: list[tuple[int, str]] = []

    # ---- registry ----------------------------------------------------------------------
    def add_event(self, event: EventSpec) -> None:
        """Register an event."""
        self.events[event.event_id] = event

    def add_market(self, spec: MarketSpec, *, announce: bool) -> MarketState:
        """Register a market and optionally announce it."""
        if spec.condition_id in self.markets:
            raise ValueError(f"market {spec.condition_id} already exists")
        state = MarketState(
            spec=spec, tick_size=spec.tick_size, book=Book(), created_ms=self.clock.now_ms()
        )
        self.markets[spec.condition_id] = state
        self.assets[spec.yes_asset] = (state, Token.YES)
        self.assets[spec.no_asset] = (state, Token.NO)
        if announce:
            self.emit(self.new_market_event(state, self.events.get(spec.event_id)))
        return state

    def fund(self, address: str, amount_units: int) -> int:
        """Faucet."""
        return self.accounts.fund(address, amount_units)

    def balance(self, address: str, asset_type: AssetType, token_id: str) -> BalanceView:
        """Balance view."""
        if asset_type is AssetType.COLLATERAL:
            return self.accounts.collateral_view(address)
        return self.accounts.token_view(address, token_id)

    # ---- posting -----------------------------------------------------------------------
    def post_order(self, o: PostOrder) -> OrderResult:
        """See :meth:`Exchange.post_order`."""
        early = self._check_mode(o)
        if early is not None:
            return early
        address = self.api_keys.get(o.api_key)
        if address is None:
            return rejection(Msg.UNAUTHORIZED, http_status=401)
        if o.signer.lower() != address:
            return rejection(Msg.SIGNER_MISMATCH)
        if o.post_only and not o.order_type.rests:
            return rejection(Msg.INVALID_PAYLOAD)
        found = self.assets.get(o.asset_id)
        if found is None:
            return rejection(Msg.INVALID_TOKEN)
        market, token = found
        if market.closed or not market.accepting_orders:
            return rejection(Msg.NOT_READY, order_id=o.order_id)
        terms = order_terms(o.side, o.maker_amount, o.taker_amount, market.tick_size)
        if terms is None or terms.size == 0:
            return rejection(Msg.INVALID_PAYLOAD)
        if not on_grid(terms.price, market.tick_size):
            return rejection(
                Msg.tick(o.order_id, terms.price, market.tick_size), order_id=o.order_id
            )
        bad = self._check_size_expiry_dup(o, market, token, terms)
        if bad is not None:
            return bad
        funder = o.maker.lower()
        intent = OrderIntent(
            order_id=o.order_id,
            owner=funder,
            token=token,
            side=o.side,
            price=terms.price,
            size=terms.size,
            tif=o.order_type,
            post_only=o.post_only,
        )
        crossing = min(terms.size, crossable_size(market.book, intent, up_to=terms.size))
        if o.side is Side.BUY and crossing and not o.post_only:
            notional = Decimal(o.maker_amount) / Decimal(10**6)
            if o.maker_amount < MIN_MARKETABLE_NOTIONAL:
                return rejection(Msg.marketable_buy(notional), order_id=o.order_id)
        if not self._has_funds(funder, o, terms, crossing, market):
            return rejection(Msg.BALANCE, order_id=o.order_id)
        return self._execute(o, funder, market, token, terms, intent)

    def _check_mode(self, o: PostOrder) -> OrderResult | None:
        if self.mode is TradingMode.DISABLED:
            return rejection(Msg.DISABLED, http_status=503)
        if self.mode is TradingMode.CANCEL_ONLY:
            return rejection(Msg.CANCEL_ONLY, http_status=503)
        if self.mode is TradingMode.POST_ONLY and not o.post_only:
            return rejection(Msg.POST_ONLY_MODE, http_status=503, code="post_only_mode")
        return None

    def _check_size_expiry_dup(
        self, o: PostOrder, market: MarketState, token: Token, terms: OrderTerms
    ) -> OrderResult | None:
        if o.order_type.rests:
            min_units = int(market.spec.min_size * 10**6)
            if terms.size < min_units:
                return rejection(
                    Msg.min_size(o.order_id, Decimal(terms.size) / 10**6, market.spec.min_size),
                    order_id=o.order_id,
                )
        now_s = self.clock.now_ns() // _NS
        if o.order_type is TimeInForce.GTD:
            if o.expiration <= now_s + GTD_BUFFER_S:
                return rejection(Msg.EXPIRATION, order_id=o.order_id)
        elif o.expiration != 0:
            return rejection(Msg.EXPIRATION, order_id=o.order_id)
        if o.order_id in self.orders:
            return rejection(Msg.duplicated(o.order_id), order_id=o.order_id)
        return None

    def _has_funds(
        self, funder: str, o: PostOrder, terms: OrderTerms, crossing: int, market: MarketState
    ) -> bool:
        if o.side is Side.SELL:
            return terms.size <= self.accounts.token_view(funder, o.asset_id).available
        # a taker BUY also pays the fee; reserve the worst case over the prices it may hit
        worst = fee_units(crossing, min(terms.price, _HALF), market.spec.fees)
        return terms.notional + worst <= self.accounts.collateral_view(funder).available

    def _execute(
        self,
        o: PostOrder,
        funder: str,
        market: MarketState,
        token: Token,
        terms: OrderTerms,
        intent: OrderIntent,
    ) -> OrderResult:
        now_ns = self.clock.now_ns()
        result = match(market.book, intent, market.spec.fees)
        record = OrderRecord(
            order_id=o.order_id,
            api_key=o.api_key,
            address=funder,
            market=market.condition_id,
            asset_id=o.asset_id,
            token=token,
            outcome=market.spec.outcomes[token],
            side=o.side,
            price=terms.price,
            original_size=terms.size,
            order_type=o.order_type,
            expiration=o.expiration,
            created_ms=now_ns // 1_000_000,
        )
        if result.reject is not None:
            msg = {
                Reject.POST_ONLY_CROSSES: Msg.POST_ONLY_CROSSES,
                Reject.FOK_NOT_FILLED: Msg.FOK,
                Reject.FAK_NO_MATCH: Msg.FAK,
            }[result.reject]
            if result.reject is not Reject.POST_ONLY_CROSSES:
                record.status = OrderStatus.CANCELED
                self.orders[o.order_id] = record
                self._order_event(record, "CANCELLATION", status=f"CANCELED_{msg}")
            return rejection(msg, order_id=o.order_id)
        self.orders[o.order_id] = record
        self._order_event(record, "PLACEMENT")
        trades, making, taking = self._settle(record, market, result.fills, now_ns)
        if result.rested is not None:
            rest_size = result.rested.size
            # the resting remainder reserves its own notional at the limit (makers pay no fee)
            record.reserved = (
                OrderTerms(terms.price, rest_size).notional if o.side is Side.BUY else rest_size
            )
            if o.side is Side.BUY:
                self.accounts.reserve_collateral(funder, record.reserved)
            else:
                self.accounts.reserve_tokens(funder, o.asset_id, record.reserved)
            self._add_open(record)
            if o.order_type is TimeInForce.GTD:
                heapq.heappush(self._gtd, (o.expiration, o.order_id))
        else:
            record.status = OrderStatus.MATCHED if result.filled else OrderStatus.CANCELED
        if result.fills:
            self._order_event(record, "UPDATE")
        if result.unfilled and result.fills:
            record.status = OrderStatus.CANCELED
            self._order_event(record, "CANCELLATION")
        self._publish_book_changes(
            market, result.changes, traded_units=sum(fill.size for fill in result.fills)
        )
        for trade in trades:
            self._trade_events(trade)
        return OrderResult(
            success=True,
            order_id=o.order_id,
            status="matched" if result.fills else "live",
            making_amount=making,
            taking_amount=taking,
            trade_ids=[t.trade_id for t in trades],
        )

    def _settle(
        self, taker: OrderRecord, market: MarketState, fills: list[Fill], now_ns: int
    ) -> tuple[list[TradeRecord], int, int]:
        """Apply fills to accounts and orders; group them into one trade per price level."""
        trades: list[TradeRecord] = []
        making = taking = 0
        spec = market.spec
        bps = fee_rate_bps(spec.fees)
        for fill in fills:
            maker = self.orders[fill.maker_order_id]
            maker.size_matched += fill.size
            if maker.side is Side.BUY:
                cash = fill.cash(maker.token)
                self.accounts.release_collateral(maker.address, cash)
                maker.reserved -= cash
            else:
                self.accounts.release_tokens(maker.address, maker.asset_id, fill.size)
                maker.reserved -= fill.size
            if fill.maker_remaining == 0:
                maker.status = OrderStatus.MATCHED
                self._drop_open(maker)
                if maker.reserved:
                    self._release(maker)
            settled = settlement(fill, self.operator)
            self.accounts.apply(
                settled,
                condition_id=spec.condition_id,
                yes_asset=spec.yes_asset,
                no_asset=spec.no_asset,
            )
            taker.size_matched += fill.size
            cash = fill.cash(taker.token)
            making += cash if taker.side is Side.BUY else fill.size
            taking += fill.size if taker.side is Side.BUY else cash
            leg = MakerLeg(
                order_id=maker.order_id,
                api_key=maker.api_key,
                address=maker.address,
                matched_amount=fill.size,
                price=fill.maker_price,
                asset_id=maker.asset_id,
                outcome=maker.outcome,
                side=maker.side,
                fee_rate_bps=bps,
                rebate=fill.rebate,
            )
            if trades and trades[-1].price == fill.taker_price:
                trade = trades[-1]
                trade.size += fill.size
                trade.fee += fill.fee
                trade.maker_legs.append(leg)
            else:
                trade = TradeRecord(
                    trade_id=self.lifecycle.new_id(),
                    market=spec.condition_id,
                    asset_id=taker.asset_id,
                    side=taker.side,
                    price=fill.taker_price,
                    size=fill.size,
                    fee=fill.fee,
                    fee_rate_bps=bps,
                    outcome=taker.outcome,
                    taker_order_id=taker.order_id,
                    taker_api_key=taker.api_key,
                    taker_address=taker.address,
                    maker_legs=[leg],
                    match_ns=now_ns,
                )
                trades.append(trade)
            trade.fills.append(fill)
            trade.settlements.append(settled)
            for rec in (maker, taker):
                if trade.trade_id not in rec.associate_trades:
                    rec.associate_trades.append(trade.trade_id)
            market.volume_units += fill.size
            market.last_trade_price = fill.yes_price
            yes_buy = (taker.token is Token.YES) == (taker.side is Side.BUY)
            market.last_trade_side = "BUY" if yes_buy else "SELL"
        for fill in fills:
            maker = self.orders[fill.maker_order_id]
            if fill.maker_remaining == maker.remaining:  # last fill of this maker in the batch
                self._order_event(maker, "UPDATE")
        for trade in trades:
            self.lifecycle.add(trade)
        if fills:
            market.price_history.append((now_ns // _NS, fills[-1].yes_price))
        return trades, making, taking

    # ---- the open-order indexes --------------------------------------------------------
    def _add_open(self, record: OrderRecord) -> None:
        oid = record.order_id
        self._open[oid] = record
        self._open_by_market.setdefault(record.market, {})[oid] = record
        self._open_by_address.setdefault(record.address, {})[oid] = record
        self._open_by_api_key.setdefault(record.api_key, {})[oid] = record

    def _drop_open(self, record: OrderRecord) -> None:
        oid = record.order_id
        if self._open.pop(oid, None) is None:
            return
        for index, key in (
            (self._open_by_market, record.market),
            (self._open_by_address, record.address),
            (self._open_by_api_key, record.api_key),
        ):
            bucket = index.get(key)
            if bucket is not None:
                bucket.pop(oid, None)
                if not bucket:
                    del index[key]

    def _open_in(self, market: str, asset_id: str) -> Iterable[OrderRecord]:
        """Open orders of ``market`` (or of ``asset_id``'s market); every open order if neither."""
        if not market and asset_id:
            found = self.assets.get(asset_id)
            if found is None:
                return ()
            market = found[0].condition_id
        if market:
            return self._open_by_market.get(market, {}).values()
        return self._open.values()

    # ---- cancels -----------------------------------------------------------------------
    def cancel(self, api_key: str, order_ids: Iterable[str]) -> CancelResult:
        """See :meth:`Exchange.cancel`."""
        address = self._cancel_guard(api_key)
        if isinstance(address, CancelResult):
            return address
        out = CancelResult()
        for order_id in order_ids:
            record = self.orders.get(order_id)
            if record is None or (record.address != address and record.api_key != api_key):
                out.not_canceled[order_id] = "order not found"
            elif not record.is_open:
                out.not_canceled[order_id] = Msg.ALREADY_DONE
            else:
                self.cancel_record(record, OrderStatus.CANCELED)
                out.canceled.append(order_id)
        return out

    def cancel_all(self, api_key: str) -> CancelResult:
        """See :meth:`Exchange.cancel_all`."""
        address = self._cancel_guard(api_key)
        if isinstance(address, CancelResult):
            return address
        ids = list(self._open_by_address.get(address, {}))
        return self.cancel(api_key, ids)

    def cancel_market(self, api_key: str, market: str, asset_id: str) -> CancelResult:
        """See :meth:`Exchange.cancel_market`."""
        address = self._cancel_guard(api_key)
        if isinstance(address, CancelResult):
            return address
        pool = (
            self._open_in(market, asset_id)
            if market or asset_id
            else self._open_by_address.get(address, {}).values()
        )
        ids = [
            r.order_id
            for r in pool
            if r.address == address
            and (not market or r.market == market)
            and (not asset_id or r.asset_id == asset_id)
        ]
        return self.cancel(api_key, ids)

    def _cancel_guard(self, api_key: str) -> str | CancelResult:
        if self.mode is TradingMode.DISABLED:
            return CancelResult(error=Msg.DISABLED, http_status=503)
        address = self.api_keys.get(api_key)
        if address is None:
            return CancelResult(error=Msg.UNAUTHORIZED, http_status=401)
        return address

    def cancel_record(
        self, record: OrderRecord, status: OrderStatus, *, publish: bool = True
    ) -> None:
        """Take an open order off the book, release its reservation and announce it."""
        market, _ = self.assets[record.asset_id]
        _, change = market.book.remove(record.order_id)
        self._drop_open(record)
        self._release(record)
        record.status = status
        self._order_event(record, "CANCELLATION")
        if publish:
            self._publish_book_changes(market, [change], traded_units=0)

    def _release(self, record: OrderRecord) -> None:
        if record.side is Side.BUY:
            self.accounts.release_collateral(record.address, record.reserved)
        else:
            self.accounts.release_tokens(record.address, record.asset_id, record.reserved)
        record.reserved = 0

    def open_orders(
        self, *, address: str | None, api_key: str | None, market: str, asset_id: str, order_id: str
    ) -> list[OrderRecord]:
        """See :meth:`Exchange.open_orders`."""
        low = address.lower() if address else None
        pool: Iterable[OrderRecord]
        if market or asset_id:
            pool = self._open_in(market, asset_id)
        elif low is not None:
            pool = self._open_by_address.get(low, {}).values()
        elif api_key is not None:
            pool = self._open_by_api_key.get(api_key, {}).values()
        else:
            pool = self._open.values()
        return [
            r
            for r in pool
            if (low is None or r.address == low)
            and (api_key is None or r.api_key == api_key)
            and (not market or r.market == market)
            and (not asset_id or r.asset_id == asset_id)
            and (not order_id or r.order_id == order_id)
        ]

    # ---- admin, time -------------------------------------------------------------------
    def heartbeat(self, api_key: str, heartbeat_id: str) -> HeartbeatResult:
        """See :meth:`Exchange.heartbeat`."""
        return self.heartbeats.beat(api_key, heartbeat_id, self.clock.now_ns())

    def resolve(self, condition_id: str, winning_outcome: int) -> None:
        """See :meth:`Exchange.resolve`."""
        market = self.markets[condition_id]
        if market.closed:
            raise ValueError(f"market {condition_id} is already resolved")
        if winning_outcome not in (0, 1):
            raise ValueError("winning_outcome must be 0 or 1")
        for record in list(self._open_by_market.get(condition_id, {}).values()):
            self.cancel_record(record, OrderStatus.CANCELED_MARKET_RESOLVED)
        market.closed = True
        market.accepting_orders = False
        market.winning_outcome = winning_outcome
        market.resolved_ms = self.clock.now_ms()
        self.emit(self.resolved_event(market))

    def redeem(self, address: str, condition_id: str) -> int:
        """See :meth:`Exchange.redeem`."""
        market = self.markets[condition_id]
        if market.winning_outcome is None:
            raise ValueError(f"market {condition_id} is not resolved")
        return self.accounts.redeem(
            address,
            condition_id=condition_id,
            assets=market.spec.assets,
            winner=market.winning_outcome,
        )

    def tick(self) -> None:
        """See :meth:`Exchange.tick`."""
        now_ns = self.clock.now_ns()
        while self._gtd and self._gtd[0][0] <= now_ns // _NS:
            _, order_id = heapq.heappop(self._gtd)
            record = self.orders[order_id]
            if record.is_open:
                self.cancel_record(record, OrderStatus.CANCELED_EXPIRED_ORDER)
        for trade in self.lifecycle.advance(now_ns, self._revert):
            self._trade_events(trade)
        for api_key in self.heartbeats.expire(now_ns):
            for record in list(self._open_by_api_key.get(api_key, {}).values()):
                self.cancel_record(record, OrderStatus.CANCELED)

    def _revert(self, trade: TradeRecord) -> bool:
        market = self.markets[trade.market]
        spec = market.spec
        undone: list[int] = []
        for i, settled in enumerate(trade.settlements):
            if not self.accounts.revert(
                settled,
                condition_id=spec.condition_id,
                yes_asset=spec.yes_asset,
                no_asset=spec.no_asset,
            ):
                for j in reversed(undone):  # put back what was already undone
                    self.accounts.apply(
                        trade.settlements[j],
                        condition_id=spec.condition_id,
                        yes_asset=spec.yes_asset,
                        no_asset=spec.no_asset,
                    )
                return False
            undone.append(i)
        return True

    # ---- events ------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[VenueEvent], None]) -> Callable[[], None]:
        """Register a listener."""
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def _order_event(self, record: OrderRecord, kind: str, *, status: str = "") -> None:
        wire = record.to_wire()
        wire.update(
            {
                "event_type": "order",
                "type": kind,
                "order_owner": record.api_key,
                "created_at": str(record.created_ms // 1000),
                "timestamp": str(self.clock.now_ms()),
                "status": status or record.status.value,
            }
        )
        self.emit(
            OrderEvent(
                market=record.market,
                timestamp_ms=self.clock.now_ms(),
                api_key=record.api_key,
                payload=wire,
            )
        )

    def _trade_events(self, trade: TradeRecord) -> None:
        for api_key, side in trade.recipients():
            self.emit(
                TradeEvent(
                    market=trade.market,
                    timestamp_ms=trade.last_update_ns // 1_000_000,
                    api_key=api_key,
                    payload=trade.to_wire(api_key=api_key, trader_side=side, ws=True),
                )
            )

    def _publish_book_changes(
        self, market: MarketState, changes: list[LevelChange], *, traded_units: int
    ) -> None:
        if not changes:
            return
        self.emit_price_changes(market, changes)
        if traded_units and market.last_trade_price is not None:
            self.emit_trade_market_data(market, traded_units)

    def book_summary(self, asset_id: str) -> OrderBookSummary:
        """See :meth:`Exchange.book_summary`."""
        market, token = self.assets[asset_id]
        return self.summary(market, token, self.clock.now_ms())


__all__ = ["Engine", "fmt_decimal", "fmt_price", "fmt_units"]
