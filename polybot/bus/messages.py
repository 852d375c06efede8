"""The wire contract: every message that travels on PolyBot's NNG buses.

Each message is a frozen msgspec Struct tagged by ``type``. On the wire it is one msgpack map whose
first key is ``type`` and whose other keys follow the field order below, so a plain
``msgpack.unpackb`` in any language sees a dict. The seed's three shapes (``price``, ``signal``,
``event``) keep their field names and meanings exactly; everything else was added for the stack.

Rules (see docs/wire.md, generated from this module):

* Fields are only ever *appended*, always with a default; a field is never retyped or renamed.
* Readers ignore unknown fields, so old readers keep working when a field is appended.
* ``timestamp`` is epoch **milliseconds** everywhere (the seed's unit and Polymarket's).
* ``seq`` is stamped by the publishing endpoint, per publisher, starting at 1; 0 means unstamped.
* Market data (price, book, trade) carries floats: fine for analytics and the price bus. Anything
  that moves money (order updates, fills, balances) carries ``Decimal`` (a string on the wire).
  The executor turns a signal's float price/size into an exact ``Decimal`` on the tick grid
  (``polybot.core.money.to_decimal``) before any order is built.
* ``market_id`` (condition id) and then ``token_id`` come right after ``type`` in market-data
  messages, so the first bytes of a frame are a stable prefix that an NNG SUB socket can filter on
  (``polybot.bus.codec.subscription_prefix``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
Positive = Annotated[float, msgspec.Meta(gt=0.0)]
Millis = Annotated[int, msgspec.Meta(ge=0)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]

Side = Literal["BUY", "SELL"]
Action = Literal["BUY_YES", "SELL_YES", "BUY_NO", "SELL_NO"]
OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
Liquidity = Literal["MAKER", "TAKER"]


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every bus message; ``type`` is the wire tag."""


# --------------------------------------------------------------------------------------------
# The seed's shapes


class Price(Message, frozen=True, tag="price"):
    """Top of book for one outcome token; published on every top-of-book change (per venue frame)."""

    market_id: NonEmpty
    token_id: NonEmpty
    bid: Probability
    ask: Probability
    mid: Probability
    timestamp: Millis
    seq: int = 0


class Signal(Message, frozen=True, tag="signal"):
    """A strategy's wish to trade, sent to the executor's PULL socket.

    ``action`` names the side and the outcome: ``BUY_YES`` buys ``token_id`` where that token is
    the market's first outcome; ``BUY_NO`` buys the second. ``price`` is the limit price, ``size``
    the number of shares. The executor validates, risk-checks and answers with an ``event`` whose
    ``data`` carries these fields plus the signal's fate.
    """

    strategy: NonEmpty
    market_id: NonEmpty
    action: Action
    token_id: NonEmpty
    price: Probability
    size: Positive
    reason: str = ""
    confidence: Probability = 1.0
    signal_id: str = ""  # set by the sender (or the executor when empty); idempotency key
    order_type: OrderType = "GTC"
    post_only: bool = False
    expiration: int = 0  # unix seconds, GTD only
    seq: int = 0


class Event(Message, frozen=True, tag="event"):
    """Something that happened in the system (order filled, signal rejected, risk halt, ...)."""

    source: NonEmpty
    event_type: NonEmpty
    data: dict[str, Any]
    timestamp: Millis
    seq: int = 0


# --------------------------------------------------------------------------------------------
# Market data


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level: ``[price, size]`` on the wire (array-like for compactness)."""

    price: Probability
    size: NonNegative


class BookSnapshot(Message, frozen=True, tag="book"):
    """Full L2 book of one outcome token. Bids best (highest) first, asks best (lowest) first."""

    market_id: NonEmpty
    token_id: NonEmpty
    bids: list[Level]
    asks: list[Level]
    timestamp: Millis
    tick_size: Positive = 0.01
    hash: str = ""  # the venue's book hash, when it sent one
    seq: int = 0


class LevelChange(msgspec.Struct, frozen=True, array_like=True):
    """``[side, price, size]``: the new absolute size at a level; size 0 removes the level."""

    side: Side
    price: Probability
    size: NonNegative


class BookDelta(Message, frozen=True, tag="book_delta"):
    """Changes to one token's book (a venue frame's net change); apply in order to the last book."""

    market_id: NonEmpty
    token_id: NonEmpty
    changes: list[LevelChange]
    timestamp: Millis
    best_bid: NonNegative = 0.0
    best_ask: NonNegative = 0.0
    hash: str = ""
    seq: int = 0


class Trade(Message, frozen=True, tag="trade"):
    """A public trade print (the market channel's ``last_trade_price``)."""

    market_id: NonEmpty
    token_id: NonEmpty
    price: Probability
    size: Positive
    side: Side  # the taker's side
    timestamp: Millis
    fee_rate_bps: int = 0
    seq: int = 0


class TickSizeChange(Message, frozen=True, tag="tick_size_change"):
    """The market's tick changed; books must be dropped and re-snapshotted."""

    market_id: NonEmpty
    token_id: NonEmpty
    old_tick_size: Positive
    new_tick_size: Positive
    timestamp: Millis
    seq: int = 0


class MarketResolved(Message, frozen=True, tag="market_resolved"):
    """A market resolved; ``winning_token_id`` pays 1 pUSD per share."""

    market_id: NonEmpty
    winning_token_id: NonEmpty
    winning_outcome: str
    timestamp: Millis
    seq: int = 0


class FeedHealth(Message, frozen=True, tag="feed_health"):
    """Health of one token's feed as the scanner sees it."""

    market_id: NonEmpty
    token_id: NonEmpty
    age_ms: int
    gaps: int
    hash_mismatches: int
    resnapshots: int
    timestamp: Millis
    seq: int = 0


# --------------------------------------------------------------------------------------------
# Execution (exact amounts)


class OrderUpdate(Message, frozen=True, tag="order_update"):
    """The state of one of our orders changed (placed, partially filled, cancelled, ...)."""

    market_id: NonEmpty
    token_id: NonEmpty
    order_id: str  # the venue's id (order hash); empty until known
    client_order_id: NonEmpty  # ours; stable across resubmits
    strategy: str
    side: Side
    price: Decimal
    original_size: Decimal
    size_matched: Decimal
    status: NonEmpty  # LIVE, MATCHED, CANCELED, ... (the venue's vocabulary)
    timestamp: Millis
    order_type: OrderType = "GTC"
    signal_id: str = ""
    reason: str = ""
    seq: int = 0


class Fill(Message, frozen=True, tag="fill"):
    """Part or all of one of our orders traded."""

    market_id: NonEmpty
    token_id: NonEmpty
    fill_id: NonEmpty  # the venue's trade id
    order_id: str
    client_order_id: str
    strategy: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal  # pUSD paid (negative = rebate received)
    liquidity: Liquidity
    status: NonEmpty  # MATCHED, MINED, CONFIRMED, RETRYING, FAILED
    timestamp: Millis
    signal_id: str = ""
    seq: int = 0


# --------------------------------------------------------------------------------------------
# System


class Heartbeat(Message, frozen=True, tag="heartbeat"):
    """A service says it is alive, with a few counters."""

    service: NonEmpty
    pid: int
    status: Literal["starting", "ok", "degraded", "stopping"]
    uptime_s: NonNegative
    timestamp: Millis
    counters: dict[str, int] = msgspec.field(default_factory=dict)
    seq: int = 0


class Command(Message, frozen=True, tag="command"):
    """A request over REQ/REP. ``request_id`` makes handlers idempotent against REQ resends."""

    request_id: NonEmpty
    command: NonEmpty
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    token: str = ""  # local auth token for commands that change state; never logged
    timestamp: Millis = 0


class Response(Message, frozen=True, tag="response"):
    """The answer to a ``Command`` with the same ``request_id``."""

    request_id: NonEmpty
    ok: bool
    result: Any = None
    error: str = ""
    timestamp: Millis = 0


AnyMessage = (
    Price
    | Signal
    | Event
    | BookSnapshot
    | BookDelta
    | Trade
    | TickSizeChange
    | MarketResolved
    | FeedHealth
    | OrderUpdate
    | Fill
    | Heartbeat
    | Command
    | Response
)

MESSAGE_TYPES: tuple[type[Message], ...] = (
    Price,
    Signal,
    Event,
    BookSnapshot,
    BookDelta,
    Trade,
    TickSizeChange,
    MarketResolved,
    FeedHealth,
    OrderUpdate,
    Fill,
    Heartbeat,
    Command,
    Response,
)


def type_tag(message_type: type[Message]) -> str:
    """Return the wire ``type`` string of a message class."""
    tag = message_type.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


TYPE_BY_TAG: dict[str, type[Message]] = {type_tag(cls): cls for cls in MESSAGE_TYPES}
