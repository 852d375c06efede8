"""The local venue's exchange core: markets, accounts, orders, matching, trades, time.

This is the one object the HTTP/WS layer (``polybot.localvenue.server``) talks to. It is
synchronous and single-threaded on purpose: the server calls it from one event loop, and every
call runs to completion, so no locks are needed and replays are deterministic.

Units: pUSD and outcome-token amounts are integer base units (6 decimals, ``BASE_UNITS``);
prices are ``Decimal`` in the asset's own terms. Time comes from the injected clock; call
:meth:`Exchange.tick` after moving it (or :meth:`Exchange.advance` with a ``ManualClock``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from polybot.core.clock import Clock, ManualClock
from polybot.localvenue.accounts import Accounts, AssetType, BalanceView
from polybot.localvenue.engine import Engine
from polybot.localvenue.events import VenueEvent
from polybot.localvenue.heartbeats import HeartbeatResult, Heartbeats
from polybot.localvenue.lifecycle import FailureHook, LifecycleConfig, TradeLifecycle, TradeRecord
from polybot.localvenue.markets import EventSpec, MarketSpec, MarketState
from polybot.localvenue.orders import (
    CancelResult,
    OrderBookSummary,
    OrderRecord,
    OrderResult,
    PostOrder,
    TradingMode,
)

Listener = Callable[[VenueEvent], None]


class Exchange:
    """A protocol-faithful Polymarket CLOB core (reference §3, §4, §8, §9).

    All state changes go through methods below; each change is published to listeners as a
    :class:`~polybot.localvenue.events.VenueEvent` (already wire-shaped via ``to_wire()``).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        lifecycle: LifecycleConfig | None = None,
        failure_hook: FailureHook | None = None,
        operator: str = "0x0000000000000000000000000000000000000fee",
        heartbeat_timeout_s: float = 10.0,
    ) -> None:
        self._engine = Engine(
            clock,
            lifecycle=lifecycle or LifecycleConfig(),
            failure_hook=failure_hook,
            operator=operator,
            heartbeat_timeout_s=heartbeat_timeout_s,
        )

    # ---- wiring ---------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """Return the clock driving this exchange."""
        return self._engine.clock

    @property
    def accounts(self) -> Accounts:
        """Return the ledger (read it for balances; mutate only via :meth:`fund` / trading)."""
        return self._engine.accounts

    @property
    def trades(self) -> TradeLifecycle:
        """Return the trade store and its lifecycle (statuses, queries)."""
        return self._engine.lifecycle

    @property
    def heartbeats(self) -> Heartbeats:
        """Return the heartbeat / dead-man-switch registry."""
        return self._engine.heartbeats

    @property
    def operator(self) -> str:
        """Return the address that collects taker fees and pays maker rebates."""
        return self._engine.operator

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Register ``listener`` for every venue event; return a function that unregisters it."""
        return self._engine.subscribe(listener)

    # ---- markets --------------------------------------------------------------------------
    def add_event(self, event: EventSpec) -> None:
        """Register a Gamma event (markets are added separately with :meth:`add_market`)."""
        self._engine.add_event(event)

    def add_market(self, spec: MarketSpec, *, announce: bool = True) -> MarketState:
        """Register a binary market; emits ``NewMarket`` when ``announce``."""
        return self._engine.add_market(spec, announce=announce)

    def market(self, condition_id: str) -> MarketState:
        """Return a market by condition id (``KeyError`` if unknown)."""
        return self._engine.markets[condition_id]

    def market_by_asset(self, asset_id: str) -> MarketState:
        """Return the market trading ``asset_id`` (``KeyError`` if unknown)."""
        return self._engine.market_by_asset(asset_id)

    def markets(self) -> list[MarketState]:
        """Return every market in registration order."""
        return list(self._engine.markets.values())

    def events(self) -> list[EventSpec]:
        """Return every event in registration order."""
        return list(self._engine.events.values())

    def event(self, event_id: str) -> EventSpec:
        """Return one event (``KeyError`` if unknown)."""
        return self._engine.events[event_id]

    # ---- api keys / accounts ---------------------------------------------------------------
    def register_api_key(self, api_key: str, address: str) -> None:
        """Record that ``api_key`` (derived by the server) belongs to ``address``."""
        self._engine.api_keys[api_key] = address.lower()

    def address_of(self, api_key: str) -> str | None:
        """Return the address owning ``api_key``, or None."""
        return self._engine.api_keys.get(api_key)

    def api_keys_of(self, address: str) -> list[str]:
        """Return the api keys registered for ``address``."""
        low = address.lower()
        return [k for k, a in self._engine.api_keys.items() if a == low]

    def revoke_api_key(self, api_key: str) -> bool:
        """Forget ``api_key``; return whether it existed."""
        return self._engine.api_keys.pop(api_key, None) is not None

    def fund(self, address: str, amount_units: int) -> int:
        """Admin: mint ``amount_units`` pUSD base units to ``address``; return the new balance."""
        return self._engine.fund(address, amount_units)

    def balance(self, address: str, asset_type: AssetType, token_id: str = "") -> BalanceView:
        """Return balance / reserved / available of collateral or one outcome asset."""
        return self._engine.balance(address, asset_type, token_id)

    # ---- orders ---------------------------------------------------------------------------
    def post_order(self, order: PostOrder) -> OrderResult:
        """Validate, match and possibly rest one order; return what ``OrderResponse`` needs.

        Never raises for venue rejections: ``OrderResult.success`` is False and ``error_msg``
        carries the official text (reference §3.4) with ``http_status`` the HTTP code to use.
        """
        return self._engine.post_order(order)

    def cancel(self, api_key: str, order_ids: Iterable[str]) -> CancelResult:
        """Cancel the caller's orders by id (``DELETE /order`` and ``DELETE /orders``)."""
        return self._engine.cancel(api_key, order_ids)

    def cancel_all(self, api_key: str) -> CancelResult:
        """Cancel every open order of ``api_key``'s address (``DELETE /cancel-all``)."""
        return self._engine.cancel_all(api_key)

    def cancel_market(self, api_key: str, market: str = "", asset_id: str = "") -> CancelResult:
        """Cancel the caller's orders in a market and/or asset (``DELETE /cancel-market-orders``)."""
        return self._engine.cancel_market(api_key, market, asset_id)

    def order(self, order_id: str) -> OrderRecord | None:
        """Return any order ever accepted (open or terminal), or None."""
        return self._engine.orders.get(order_id)

    def open_orders(
        self, *, address: str | None = None, api_key: str | None = None, market: str = "",
        asset_id: str = "", order_id: str = "",
    ) -> list[OrderRecord]:
        """Return live orders filtered like ``GET /data/orders`` (oldest first)."""
        return self._engine.open_orders(
            address=address, api_key=api_key, market=market, asset_id=asset_id, order_id=order_id
        )

    def trades_for(
        self, address: str, *, trade_id: str = "", market: str = "", asset_id: str = "",
        before_s: int | None = None, after_s: int | None = None,
    ) -> list[TradeRecord]:
        """Return trades where ``address`` was taker or maker, filtered like ``/data/trades``."""
        return self._engine.lifecycle.query(
            address, trade_id=trade_id, market=market, asset_id=asset_id,
            before_s=before_s, after_s=after_s,
        )

    # ---- market data ----------------------------------------------------------------------
    def book_summary(self, asset_id: str) -> OrderBookSummary:
        """Return the REST ``/book`` payload for ``asset_id`` (strings, wire order, real hash)."""
        return self._engine.book_summary(asset_id)

    def best_bid_ask(self, asset_id: str) -> tuple[Decimal | None, Decimal | None]:
        """Return ``(best_bid, best_ask)`` in the asset's own terms."""
        return self._engine.best_bid_ask(asset_id)

    def last_trade(self, asset_id: str) -> tuple[Decimal | None, str]:
        """Return ``(price, side)`` of the last trade in the asset's own terms (side "" if none)."""
        return self._engine.last_trade(asset_id)

    # ---- heartbeats -----------------------------------------------------------------------
    def heartbeat(self, api_key: str, heartbeat_id: str) -> HeartbeatResult:
        """Accept ``POST /v1/heartbeats``: ``""`` starts a chain, then echo the returned id."""
        return self._engine.heartbeat(api_key, heartbeat_id)

    # ---- admin ----------------------------------------------------------------------------
    def set_trading_mode(self, mode: TradingMode) -> None:
        """Admin / fault knob: normal, cancel-only, disabled or post-only."""
        self._engine.mode = mode

    @property
    def trading_mode(self) -> TradingMode:
        """Return the current trading mode."""
        return self._engine.mode

    def resolve(self, condition_id: str, winning_outcome: int) -> None:
        """Admin: resolve a market (0 = first outcome/YES wins); cancels its open orders."""
        self._engine.resolve(condition_id, winning_outcome)

    def redeem(self, address: str, condition_id: str) -> int:
        """Burn ``address``'s tokens of a resolved market, pay 1 pUSD per winner; return payout."""
        return self._engine.redeem(address, condition_id)

    def set_tick_size(self, condition_id: str, tick: Decimal) -> None:
        """Change a market's tick (emits ``tick_size_change``; off-grid resting orders stay)."""
        self._engine.set_tick_size(condition_id, tick)

    def tick(self) -> None:
        """Process everything due at the clock's now: GTD expiry, trade lifecycle, heartbeats."""
        self._engine.tick()

    def advance(self, seconds: float) -> None:
        """Admin: move a ``ManualClock`` forward by ``seconds`` and :meth:`tick`."""
        clock = self._engine.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance() needs a ManualClock; with a wall clock just call tick()")
        clock.advance_ns(int(seconds * 1_000_000_000))
        self.tick()


__all__ = ["Exchange", "Listener"]
