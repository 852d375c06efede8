"""The strategy model: ``Strategy``, its frozen ``StrategyConfig`` and the ``Context`` door.

A strategy is a plain synchronous object. It reacts to market data and to its own order/fill
messages through ``on_*`` handlers, keeps its own state, and acts only through the ``Context`` it
is handed (orders, timers, clock, book/position lookups, a logger). It does no I/O, so the same
class runs unchanged in a notebook backtest, against ``PaperVenue`` on live data, and in the
production runner whose venue is the executor.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

import msgspec

from polybot.bus.messages import Event, Fill, MarketResolved, OrderUpdate, TickSizeChange, Trade
from polybot.core.errors import ConfigError
from polybot.model.market import Market

Amount = Decimal | float | int | str
OrderKind = Literal["GTC", "GTD", "FOK", "FAK"]


class StrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every strategy's parameters: frozen, typed, hashable, loadable from TOML/JSON.

    Subclass it with typed fields and defaults. ``config_hash`` is stable across processes and
    Python versions because it hashes the canonical JSON encoding, not ``hash()``.
    """

    def to_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-compatible builtins (Decimals become strings)."""
        result = msgspec.to_builtins(self)
        assert isinstance(result, dict)
        return result

    @property
    def config_hash(self) -> str:
        """Return a short stable hash of the class name and parameters (stored with every run)."""
        payload = msgspec.json.encode({"class": type(self).__qualname__, "params": self.to_dict()})
        # msgspec encodes struct fields in declaration order, so the payload is canonical.
        return hashlib.sha256(payload).hexdigest()[:16]


class BookView(Protocol):
    """Read-only L2 view of one outcome token's book (floats: market data, not money).

    ``bids``/``asks`` are best first. The engine owns the object and updates it in place, so a
    strategy must copy what it wants to remember rather than keep the view.
    """

    @property
    def token_id(self) -> str: ...

    @property
    def market_id(self) -> str: ...

    @property
    def best_bid(self) -> float | None: ...

    @property
    def best_ask(self) -> float | None: ...

    @property
    def mid(self) -> float | None: ...

    @property
    def timestamp_ms(self) -> int: ...

    def bids(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return ``(price, size)`` bid levels best first (all when ``depth`` is 0)."""
        ...

    def asks(self, depth: int = 0) -> list[tuple[float, float]]:
        """Return ``(price, size)`` ask levels best first (all when ``depth`` is 0)."""
        ...

    def size_at(self, is_bid: bool, price: float) -> float:
        """Return the aggregate size resting at ``price`` on one side (0 when empty)."""
        ...


class Context(Protocol):
    """Everything a strategy may touch. Order methods return a ``client_order_id`` at once.

    Orders are intents: the engine checks them and passes them to its venue (simulated, paper,
    or the executor, where they travel as ``Signal`` messages). Their fate comes back through
    ``Strategy.on_order`` / ``Strategy.on_fill``.
    """

    @property
    def log(self) -> logging.Logger: ...

    def now_ns(self) -> int:
        """Return the current (simulated or wall) time in ns."""
        ...

    def now_ms(self) -> int:
        """Return the current time in ms."""
        ...

    def subscribe(self, token_id: str | None = None) -> None:
        """Receive book/trade updates for ``token_id`` (every token when None)."""
        ...

    def markets(self) -> Sequence[Market]:
        """Return every market the feed knows about."""
        ...

    def market(self, token_or_market_id: str) -> Market:
        """Return the market of a token id or condition id (KeyError when unknown)."""
        ...

    def book(self, token_id: str) -> BookView | None:
        """Return the current book of ``token_id`` or None before its first snapshot."""
        ...

    def position(self, token_id: str) -> Decimal:
        """Return this strategy's shares of ``token_id``."""
        ...

    def cash(self) -> Decimal:
        """Return this strategy's pUSD cash (after fees)."""
        ...

    def open_orders(self, token_id: str | None = None) -> list[OrderUpdate]:
        """Return the latest state of this strategy's live orders (optionally for one token)."""
        ...

    def buy(
        self,
        token_id: str,
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind = "GTC",
        post_only: bool = False,
        reason: str = "",
        confidence: float = 1.0,
    ) -> str:
        """Ask to buy ``size`` shares at ``limit`` or better; return the client order id."""
        ...

    def sell(
        self,
        token_id: str,
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind = "GTC",
        post_only: bool = False,
        reason: str = "",
        confidence: float = 1.0,
    ) -> str:
        """Ask to sell ``size`` shares at ``limit`` or better; return the client order id."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask to cancel one order (a no-op when it is already done)."""
        ...

    def cancel_all(self, token_id: str | None = None) -> None:
        """Ask to cancel every live order (of one token when given)."""
        ...

    def set_timer(self, name: str, delay_ns: int, *, repeat: bool = False) -> None:
        """Call ``Strategy.on_timer(ctx, name)`` after ``delay_ns`` (again every ``delay_ns``)."""
        ...

    def cancel_timer(self, name: str) -> None:
        """Stop a timer set with ``set_timer``."""
        ...


class OrderSides(ABC):
    """``buy`` and ``sell`` for Context implementations, both going through one ``place``."""

    @abstractmethod
    def place(
        self,
        token_id: str,
        side: Literal["BUY", "SELL"],
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind,
        post_only: bool,
        reason: str,
        confidence: float,
    ) -> str:
        """Send one order intent; return its client order id."""

    def buy(
        self,
        token_id: str,
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind = "GTC",
        post_only: bool = False,
        reason: str = "",
        confidence: float = 1.0,
    ) -> str:
        """Buy up to ``size`` shares at ``limit`` or better; return the client order id."""
        return self.place(
            token_id,
            "BUY",
            size,
            limit,
            order_type=order_type,
            post_only=post_only,
            reason=reason,
            confidence=confidence,
        )

    def sell(
        self,
        token_id: str,
        size: Amount,
        limit: Amount,
        *,
        order_type: OrderKind = "GTC",
        post_only: bool = False,
        reason: str = "",
        confidence: float = 1.0,
    ) -> str:
        """Sell up to ``size`` shares at ``limit`` or better; return the client order id."""
        return self.place(
            token_id,
            "SELL",
            size,
            limit,
            order_type=order_type,
            post_only=post_only,
            reason=reason,
            confidence=confidence,
        )


class Strategy:
    """Base class for strategies. Subclasses set ``Config`` and override ``on_*`` handlers.

    Build with a config object or with keyword parameters (strings are fine for Decimals)::

        Fade(FadeConfig(token_id="t1", edge=Decimal("0.03")))
        Fade(token_id="t1", edge="0.03")

    An unknown parameter raises ``ConfigError`` with a "did you mean" hint.
    """

    Config: ClassVar[type[StrategyConfig]] = StrategyConfig
    name: ClassVar[str] = ""
    config: Any

    def __init__(self, config: StrategyConfig | None = None, /, **params: Any) -> None:
        self.config = build_config(type(self), config, params)

    @classmethod
    def strategy_name(cls) -> str:
        """Return the registry name: ``name`` when set, else the snake_cased class name."""
        if cls.name:
            return cls.name
        out = [("_" + c.lower()) if c.isupper() else c for c in cls.__name__]
        return "".join(out).lstrip("_")

    @property
    def config_hash(self) -> str:
        """Return the stable hash of this instance's config."""
        return str(self.config.config_hash)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({params})"

    # ---- handlers: all optional -----------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        """Called once before the first message; subscribe and set timers here."""

    def on_book(self, ctx: Context, book: BookView) -> None:
        """A subscribed token's book changed (after the whole venue message was applied)."""

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        """A public trade printed on a subscribed token."""

    def on_tick_size(self, ctx: Context, change: TickSizeChange) -> None:
        """A subscribed market's tick changed; resting orders off the new grid stay as they are."""

    def on_resolved(self, ctx: Context, resolved: MarketResolved) -> None:
        """A market resolved; positions settle (winner pays 1) right after this call."""

    def on_event(self, ctx: Context, event: Event) -> None:
        """A system or data event (e.g. ``wallet_trade`` rows from the Data API)."""

    def on_order(self, ctx: Context, update: OrderUpdate) -> None:
        """One of this strategy's orders changed state (LIVE, MATCHED, CANCELED, INVALID)."""

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        """One of this strategy's orders traded (partially or fully)."""

    def on_timer(self, ctx: Context, name: str) -> None:
        """A timer set with ``ctx.set_timer`` fired."""

    def on_stop(self, ctx: Context) -> None:
        """Called once after the last message."""


def build_config(
    strategy_type: type[Strategy], config: StrategyConfig | None, params: dict[str, Any]
) -> StrategyConfig:
    """Return the strategy's config from an object or keyword parameters, with typo hints."""
    config_type = strategy_type.Config
    if config is not None:
        if params:
            raise ConfigError(
                f"{strategy_type.__name__}: pass a config object or keywords, not both"
            )
        if not isinstance(config, config_type):
            raise ConfigError(
                f"{strategy_type.__name__} expects a {config_type.__name__}, "
                f"got {type(config).__name__}"
            )
        return config
    fields = config_type.__struct_fields__
    for key in params:
        if key not in fields:
            raise ConfigError(unknown_parameter_message(strategy_type.__name__, key, fields))
    try:
        # Converting from builtins accepts "0.03" for Decimal fields and checks every type.
        return msgspec.convert(params, config_type, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{strategy_type.__name__}: {exc}") from None


def unknown_parameter_message(owner: str, key: str, known: Sequence[str]) -> str:
    """Return "X has no parameter 'k'; did you mean 'y'?" (or the list of valid names)."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f"{owner} has no parameter {key!r}; did you mean {close[0]!r}?"
    return f"{owner} has no parameter {key!r}; valid parameters: {', '.join(known)}"


def parameters(strategy_type: type[Strategy]) -> dict[str, Any]:
    """Return ``{name: default}`` of a strategy's parameters (``...`` marks required ones)."""
    config_type = strategy_type.Config
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(config_type):
        if field.default is not msgspec.NODEFAULT:
            out[field.name] = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            out[field.name] = field.default_factory()
        else:
            out[field.name] = ...
    return out


def load_config(strategy_type: type[Strategy], data: bytes, *, fmt: str = "toml") -> StrategyConfig:
    """Decode a TOML or JSON config for ``strategy_type`` (unknown keys get a typo hint)."""
    config_type = strategy_type.Config
    raw = msgspec.toml.decode(data) if fmt == "toml" else msgspec.json.decode(data)
    if not isinstance(raw, dict):
        raise ConfigError(f"{strategy_type.__name__}: config must be a table")
    return build_config(strategy_type, None, {**raw}) if raw else config_type()
