"""Trades and their settlement lifecycle: MATCHED → MINED → CONFIRMED (reference §3.3, §4.4).

Balances move at match time (as the real CLOB's balance endpoint reflects a match at once); the
statuses then follow the clock with configurable delays. A :data:`FailureHook` may send a trade
through RETRYING and on to FAILED, in which case the engine reverts its settlement (if the
parties still hold what they received; otherwise the retry "succeeds" and it confirms).
"""

from __future__ import annotations

import hashlib
import heapq
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from polybot.localvenue.orders import fmt_price, fmt_units
from polybot.venues.sim.book import Side
from polybot.venues.sim.matcher import Fill, Settlement

_NS = 1_000_000_000


class TradeStatus(StrEnum):
    """Trade statuses (plain, as on the WS; REST may prefix ``TRADE_STATUS_``)."""

    MATCHED = "MATCHED"
    MINED = "MINED"
    CONFIRMED = "CONFIRMED"
    RETRYING = "RETRYING"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        """Return True for CONFIRMED and FAILED."""
        return self in (TradeStatus.CONFIRMED, TradeStatus.FAILED)


class FailureMode(StrEnum):
    """What the failure hook asks for one trade."""

    NONE = "none"
    RETRY = "retry"         # RETRYING once, then MINED → CONFIRMED
    FAIL = "fail"           # RETRYING, then FAILED (settlement reverted)


FailureHook = Callable[["TradeRecord"], FailureMode]


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Delays from match time, in seconds."""

    mined_after_s: float = 2.0
    confirmed_after_s: float = 4.0
    retry_delay_s: float = 3.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MakerLeg:
    """One ``maker_orders[]`` entry."""

    order_id: str
    api_key: str
    address: str
    matched_amount: int
    price: Decimal
    asset_id: str
    outcome: str
    side: Side
    fee_rate_bps: int
    rebate: int

    def to_wire(self) -> dict[str, str]:
        """Return the wire object."""
        return {
            "order_id": self.order_id, "owner": self.api_key, "maker_address": self.address,
            "matched_amount": fmt_units(self.matched_amount), "price": fmt_price(self.price),
            "fee_rate_bps": str(self.fee_rate_bps), "asset_id": self.asset_id,
            "outcome": self.outcome, "side": self.side.value,
        }


@dataclass(slots=True, kw_only=True)
class TradeRecord:
    """One trade: a taker order against the maker orders at one price level."""

    trade_id: str
    market: str
    asset_id: str               # taker's asset
    side: Side                  # taker's side
    price: Decimal              # taker's price
    size: int
    fee: int                    # taker fee, base units
    fee_rate_bps: int
    outcome: str
    taker_order_id: str
    taker_api_key: str
    taker_address: str
    maker_legs: list[MakerLeg]
    match_ns: int
    status: TradeStatus = TradeStatus.MATCHED
    last_update_ns: int = 0
    transaction_hash: str = ""
    failure: FailureMode = FailureMode.NONE
    settlements: list[Settlement] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    def involves(self, address: str) -> bool:
        """Return True when ``address`` is the taker or one of the makers."""
        a = address.lower()
        return self.taker_address == a or any(leg.address == a for leg in self.maker_legs)

    def recipients(self) -> list[tuple[str, str]]:
        """Return ``(api_key, trader_side)`` for the taker and each distinct maker key."""
        out = [(self.taker_api_key, "TAKER")]
        seen = {self.taker_api_key}
        for leg in self.maker_legs:
            if leg.api_key not in seen:
                seen.add(leg.api_key)
                out.append((leg.api_key, "MAKER"))
        return out

    def to_wire(self, *, api_key: str, trader_side: str, ws: bool = False) -> dict[str, Any]:
        """Return the trade as ``api_key`` sees it (REST ``Trade`` or, with ``ws``, the WS event)."""
        address = self.taker_address
        if trader_side == "MAKER":
            address = next((leg.address for leg in self.maker_legs if leg.api_key == api_key), "")
        body: dict[str, Any] = {
            "id": self.trade_id, "taker_order_id": self.taker_order_id, "market": self.market,
            "asset_id": self.asset_id, "side": self.side.value, "size": fmt_units(self.size),
            "fee_rate_bps": str(self.fee_rate_bps), "price": fmt_price(self.price),
            "status": self.status.value, "match_time": str(self.match_ns // _NS),
            "last_update": str(self.last_update_ns // _NS), "outcome": self.outcome,
            "bucket_index": 0, "owner": api_key, "maker_address": address,
            "transaction_hash": self.transaction_hash, "trader_side": trader_side,
            "maker_orders": [leg.to_wire() for leg in self.maker_legs],
        }
        if ws:
            body = {"event_type": "trade", "type": "TRADE", **body, "trade_owner": api_key,
                    "timestamp": str(self.last_update_ns // 1_000_000)}
        else:
            body["err_msg"] = ""
        return body


def deterministic_uuid(namespace: str, counter: int) -> str:
    """Return a UUID-shaped id derived from a namespace and counter (replays stay identical)."""
    digest = hashlib.sha256(f"{namespace}:{counter}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


class TradeLifecycle:
    """Trade store plus the timed status machine."""

    def __init__(self, config: LifecycleConfig, hook: FailureHook | None = None) -> None:
        self.config = config
        self.hook = hook
        self.records: dict[str, TradeRecord] = {}
        self._queue: list[tuple[int, int, str, TradeStatus]] = []
        self._seq = 0
        self._counter = 0

    def new_id(self) -> str:
        """Return the next trade id."""
        self._counter += 1
        return deterministic_uuid("trade", self._counter)

    def add(self, record: TradeRecord) -> None:
        """Store a freshly matched trade and schedule its next status."""
        record.last_update_ns = record.match_ns
        if self.hook is not None:
            record.failure = self.hook(record)
        self.records[record.trade_id] = record
        first = TradeStatus.RETRYING if record.failure is not FailureMode.NONE else TradeStatus.MINED
        self._schedule(record, self.config.mined_after_s, first)

    def advance(self, now_ns: int, settle_failure: Callable[[TradeRecord], bool]) -> list[TradeRecord]:
        """Apply every transition due by ``now_ns``; return the records that changed, in order.

        ``settle_failure`` is asked to revert a failing trade; if it cannot, the trade confirms.
        """
        changed: list[TradeRecord] = []
        while self._queue and self._queue[0][0] <= now_ns:
            due_ns, _, trade_id, status = heapq.heappop(self._queue)
            record = self.records[trade_id]
            record.last_update_ns = due_ns
            if status is TradeStatus.RETRYING:
                record.status = status
                if record.failure is FailureMode.FAIL:
                    self._schedule(record, self.config.retry_delay_s, TradeStatus.FAILED)
                else:
                    self._schedule(record, self.config.retry_delay_s, TradeStatus.MINED)
            elif status is TradeStatus.FAILED:
                if settle_failure(record):
                    record.status = TradeStatus.FAILED
                else:
                    record.status = TradeStatus.MINED
                    record.transaction_hash = self._tx_hash(record)
                    self._schedule(record, self.config.confirmed_after_s, TradeStatus.CONFIRMED)
            elif status is TradeStatus.MINED:
                record.status = status
                record.transaction_hash = self._tx_hash(record)
                delay = self.config.confirmed_after_s - self.config.mined_after_s
                self._schedule(record, max(delay, 0.0), TradeStatus.CONFIRMED)
            else:
                record.status = status
            changed.append(record)
        return changed

    def query(
        self, address: str, *, trade_id: str = "", market: str = "", asset_id: str = "",
        before_s: int | None = None, after_s: int | None = None,
    ) -> list[TradeRecord]:
        """Return ``address``'s trades matching the ``/data/trades`` filters, oldest first."""
        out = []
        for r in self.records.values():
            if not r.involves(address):
                continue
            if trade_id and r.trade_id != trade_id:
                continue
            if market and r.market != market:
                continue
            if asset_id and r.asset_id != asset_id and all(
                leg.asset_id != asset_id for leg in r.maker_legs
            ):
                continue
            t = r.match_ns // _NS
            if before_s is not None and t >= before_s:
                continue
            if after_s is not None and t <= after_s:
                continue
            out.append(r)
        return out

    def pending(self) -> int:
        """Return how many transitions are scheduled."""
        return len(self._queue)

    def _schedule(self, record: TradeRecord, after_s: float, status: TradeStatus) -> None:
        self._seq += 1
        due = record.last_update_ns + int(after_s * _NS)
        heapq.heappush(self._queue, (due, self._seq, record.trade_id, status))

    @staticmethod
    def _tx_hash(record: TradeRecord) -> str:
        return "0x" + hashlib.sha256(f"tx:{record.trade_id}".encode()).hexdigest()
