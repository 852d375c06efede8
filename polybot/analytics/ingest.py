"""Bus messages → analytics rows, buffered in the owning ``DuckWriter`` and written in batches.

* price bus: ``price`` → price_history, ``trade`` → trade_history (books, deltas and health are
  the scanner's business and only counted here).
* events bus: ``fill`` messages and ``event``s of type ``order_filled``/``fill`` → fills;
  ``order_update`` and events that name a signal or an order → strategy_activity. Every strategy
  touched is remembered in ``dirty`` so the stats job recomputes only those.
* A frame that does not decode, or a fill event whose data is unusable, is dead-lettered with
  the reason (SQLite ``dead_letters``) and counted; ingestion carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from polybot.bus import codec
from polybot.bus.messages import AnyMessage, Event, Fill, OrderUpdate, Price, Trade
from polybot.core.errors import WireError
from polybot.storage.duck_owner import DuckWriter

log = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
DeadLetterFn = Callable[[bytes, str, str], None]  # (payload, reason, origin)
FILL_EVENT_TYPES = frozenset({"order_filled", "fill"})


class FillData(msgspec.Struct, kw_only=True):
    """The ``data`` of a fill event (the seed's ``order_filled``); numbers may be strings."""

    strategy: str = ""
    market_id: Annotated[str, msgspec.Meta(min_length=1)]
    token_id: Annotated[str, msgspec.Meta(min_length=1)]
    side: Literal["BUY", "SELL"]
    price: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    size: Annotated[float, msgspec.Meta(gt=0.0)]
    fee: float = 0.0
    fill_id: str = ""
    trade_id: str = ""
    client_order_id: str = ""
    order_id: str = ""
    liquidity: str = ""
    status: str = "MATCHED"
    timestamp: int = 0


def utc(ms: int) -> datetime:
    """Return the naive-UTC datetime of epoch milliseconds (DuckDB ``TIMESTAMP`` is naive UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def now_utc() -> datetime:
    """Return the current naive-UTC time (receipt stamps)."""
    return datetime.now(tz=UTC).replace(tzinfo=None)


class Ingestor:
    """Turns messages into rows; call ``on_prices`` / ``on_events`` from the bus callbacks."""

    def __init__(
        self,
        writer: DuckWriter,
        *,
        dead_letter: DeadLetterFn | None = None,
        count: CountFn | None = None,
    ) -> None:
        self.writer = writer
        self._dead_letter = dead_letter or (lambda _payload, _reason, _origin: None)
        self._count = count or (lambda _name, _amount: None)
        self.dirty: set[str] = set()

    # -- price bus ------------------------------------------------------------------------------

    def on_prices(self, message: AnyMessage) -> None:
        """Handle one message from ``prices.pub``."""
        if isinstance(message, Price):
            self.writer.append(
                "price_history",
                (
                    message.market_id,
                    message.token_id,
                    message.bid,
                    message.ask,
                    message.mid,
                    utc(message.timestamp),
                ),
            )
            self._count("prices_ingested", 1)
        elif isinstance(message, Trade):
            self.writer.append(
                "trade_history",
                (
                    message.market_id,
                    message.token_id,
                    message.price,
                    message.size,
                    message.side,
                    message.fee_rate_bps,
                    utc(message.timestamp),
                ),
            )
            self._count("trades_ingested", 1)
        else:
            self._count("prices_bus_other", 1)

    # -- events bus -----------------------------------------------------------------------------

    def on_events(self, message: AnyMessage) -> None:
        """Handle one message from ``events.pub``."""
        if isinstance(message, Fill):
            self._fill_row(
                message.strategy,
                message.fill_id,
                message.client_order_id,
                message.market_id,
                message.token_id,
                message.side,
                float(message.price),
                float(message.size),
                float(message.fee),
                message.liquidity,
                message.status,
                message.timestamp,
            )
            self._activity(message.strategy, "signal", message.signal_id, message.timestamp)
            self._activity(message.strategy, "order", message.client_order_id, message.timestamp)
        elif isinstance(message, OrderUpdate):
            self._activity(message.strategy, "order", message.client_order_id, message.timestamp)
            self._activity(message.strategy, "signal", message.signal_id, message.timestamp)
        elif isinstance(message, Event):
            self._event(message)
        else:
            self._count("events_bus_other", 1)

    def _event(self, event: Event) -> None:
        data = event.data
        if event.event_type in FILL_EVENT_TYPES:
            try:
                fill = msgspec.convert(data, FillData, strict=False)
            except msgspec.ValidationError as exc:
                self._count("fill_events_rejected", 1)
                self._dead_letter(
                    codec.encode(event), f"unusable {event.event_type} data: {exc}", "events.pub"
                )
                return
            ts = fill.timestamp or event.timestamp
            self._fill_row(
                fill.strategy,
                fill.fill_id or fill.trade_id,
                fill.client_order_id or fill.order_id,
                fill.market_id,
                fill.token_id,
                fill.side,
                fill.price,
                fill.size,
                fill.fee,
                fill.liquidity,
                fill.status,
                ts,
            )
        strategy = data.get("strategy")
        if isinstance(strategy, str) and strategy:
            for kind, key in (("signal", "signal_id"), ("order", "client_order_id")):
                ref = data.get(key)
                if isinstance(ref, str):
                    self._activity(strategy, kind, ref, event.timestamp)
        self._count("events_ingested", 1)

    def _fill_row(
        self,
        strategy: str,
        fill_id: str,
        client_order_id: str,
        market_id: str,
        token_id: str,
        side: str,
        price: float,
        size: float,
        fee: float,
        liquidity: str,
        status: str,
        timestamp: int,
    ) -> None:
        self.writer.append(
            "fills",
            (
                strategy,
                fill_id,
                client_order_id,
                market_id,
                token_id,
                side,
                price,
                size,
                fee,
                liquidity,
                status,
                utc(timestamp),
                now_utc(),
            ),
        )
        self.dirty.add(strategy)
        self._count("fills_ingested", 1)

    def _activity(self, strategy: str, kind: str, ref_id: str, timestamp: int) -> None:
        if strategy and ref_id:
            self.writer.append("strategy_activity", (strategy, kind, ref_id, utc(timestamp)))
            self.dirty.add(strategy)

    # -- bad frames -----------------------------------------------------------------------------

    def malformed(self, origin: str) -> Callable[[bytes, WireError], None]:
        """Return an ``on_malformed`` handler for the subscriber of ``origin``."""

        def handle(frame: bytes, error: WireError) -> None:
            self._count("malformed_frames", 1)
            self._dead_letter(frame, error.reason, origin)

        return handle

    def rejected_row(self, table: str, row: Any, error: Exception) -> None:
        """Dead-letter a row DuckDB refused (``DuckWriter`` ``on_reject``)."""
        self._count("rows_rejected", 1)
        self._dead_letter(repr(row).encode(), f"{table}: {error}", f"duckdb.{table}")
