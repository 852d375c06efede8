"""The API's public models: what REST clients (and the generated TypeScript client) see.

Internal structs (bus messages, SQLAlchemy rows) never leave the API as they are; routes turn them
into these models. Conventions:

* Money, prices and sizes that reach orders are exact decimals, sent as **strings** ("0.45") so no
  JavaScript float rounds them. Market-data prices (bus floats) are numbers.
* Times are ISO-8601 strings in UTC; bus timestamps stay epoch **milliseconds** (``*_ms``), which
  are safe JavaScript integers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DecimalStr = str  # documented alias: an exact decimal as a string, e.g. "0.45"
Action = Literal["BUY_YES", "SELL_YES", "BUY_NO", "SELL_NO"]
OrderType = Literal["GTC", "GTD", "FOK", "FAK"]


class PublicModel(BaseModel):
    """Base of every response model: unknown keys never sneak into the output."""

    model_config = ConfigDict(extra="ignore")


class RequestModel(BaseModel):
    """Base of every request body: unknown keys are typos and get a 422."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(PublicModel):
    """Every 4xx/5xx answer: one sentence saying what went wrong and what to do."""

    detail: str


class CommandResult(PublicModel):
    """The outcome of a state-changing command (kill switch, cancel all, modes, limits)."""

    command: str
    result: dict[str, Any]


# ---------------------------------------------------------------------------------- markets


class MarketOut(PublicModel):
    """One binary market (a condition) with its two outcome tokens and live mids when known."""

    market_id: str
    question: str
    slug: str
    event_slug: str
    yes_token_id: str
    no_token_id: str
    yes_outcome: str
    no_outcome: str
    tick_size: DecimalStr
    min_order_size: DecimalStr
    neg_risk: bool
    is_active: bool
    is_closed: bool
    end_date: datetime | None
    winning_token_id: str | None
    yes_mid: float | None = Field(None, description="latest mid of the YES token on prices.pub")
    no_mid: float | None = Field(None, description="latest mid of the NO token on prices.pub")


class MarketPage(PublicModel):
    """A page of markets."""

    items: list[MarketOut]
    total: int
    limit: int
    offset: int


class BookLevel(PublicModel):
    """One aggregated price level."""

    price: float
    size: float


class BookOut(PublicModel):
    """The latest L2 book of one outcome token, as published by the scanner."""

    market_id: str
    token_id: str
    bids: list[BookLevel] = Field(description="best (highest) first")
    asks: list[BookLevel] = Field(description="best (lowest) first")
    best_bid: float | None
    best_ask: float | None
    mid: float | None
    tick_size: float
    timestamp_ms: int
    timestamp: datetime


class PricePoint(PublicModel):
    """One recorded top of book."""

    ts: datetime
    bid: float
    ask: float
    mid: float


class PriceHistory(PublicModel):
    """Recorded prices of one token, oldest first (from the analytics service)."""

    token_id: str
    points: list[PricePoint]


# ----------------------------------------------------------------------------------- orders


class OrderOut(PublicModel):
    """One of our orders."""

    client_order_id: str
    venue_order_id: str | None
    signal_id: str | None
    strategy: str
    account: str
    venue: str
    market_id: str
    token_id: str
    side: str
    order_type: str
    price: DecimalStr
    original_size: DecimalStr
    size_matched: DecimalStr
    avg_fill_price: DecimalStr | None
    fees_paid: DecimalStr
    status: str
    reason: str
    created_at: datetime
    updated_at: datetime


class PlaceOrderRequest(RequestModel):
    """A manual order, sent to the executor as a ``signal`` through the same risk checks."""

    market_id: str = Field(min_length=1, max_length=100)
    token_id: str = Field(min_length=1, max_length=100)
    action: Action
    price: float = Field(gt=0, lt=1, description="limit price (probability)")
    size: float = Field(gt=0, le=1e9, description="shares")
    order_type: OrderType = "GTC"
    post_only: bool = False
    expiration: int = Field(0, ge=0, description="unix seconds, GTD only")
    strategy: str = Field("manual", min_length=1, max_length=100)
    reason: str = Field("", max_length=500)
    signal_id: str = Field(
        "",
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]*$",
        description="idempotency key; generated when empty",
    )


PlacementOutcome = Literal["accepted", "rejected", "shadowed"]


class OrderPlacement(PublicModel):
    """What the executor said about a placed order (its first fate event for the signal).

    ``outcome`` is ``accepted`` (the order goes to the venue), ``rejected`` (refused; ``reason``
    says by which rule) or ``shadowed`` (the strategy is in shadow mode: the signal was checked
    and recorded, but **nothing was sent to the venue**).
    """

    signal_id: str
    outcome: PlacementOutcome = Field(
        description="accepted (sent to the venue), rejected, or shadowed (checked, not sent)"
    )
    accepted: bool = Field(description="true only when the order is sent to the venue")
    fate: str = Field(description="the executor's event_type, e.g. signal_accepted")
    reason: str = Field(
        description="why it was rejected or shadowed (rule: detail); empty when accepted, "
        "unless the signal_id was a repeat"
    )
    data: dict[str, Any] = Field(description="the executor's event data, as published")
    timestamp_ms: int


class CancelAllRequest(RequestModel):
    """Scope of a cancel-all (everything when both are empty)."""

    strategy: str = Field("", max_length=100)
    market_id: str = Field("", max_length=100)


class CancelOut(PublicModel):
    """What the executor said about a single-order cancel."""

    client_order_id: str
    applied: bool
    detail: Any = None


# -------------------------------------------------------------------------- positions & PnL


class PositionOut(PublicModel):
    """Net holding of one outcome token per account and strategy, marked at the latest mid."""

    account: str
    strategy: str
    market_id: str
    token_id: str
    size: DecimalStr
    avg_price: DecimalStr
    realized_pnl: DecimalStr
    fees_paid: DecimalStr
    mark: float | None
    unrealized_pnl: DecimalStr | None
    opened_at: datetime
    updated_at: datetime


class PnlFigures(PublicModel):
    """Realized/unrealized PnL, fees and exposure (cost of open positions), pUSD."""

    realized: DecimalStr
    unrealized: DecimalStr
    fees: DecimalStr
    exposure: DecimalStr


class PnlOut(PublicModel):
    """PnL in total and per strategy; ``unmarked`` tokens are valued at cost."""

    total: PnlFigures
    by_strategy: dict[str, PnlFigures]
    daily_realized: DecimalStr
    daily_trades: int
    unmarked: list[str]


class BalancesOut(PublicModel):
    """The latest balances the executor reported (via the state service)."""

    balances: dict[str, Any] | None
    as_of_ms: int


class TradeOut(PublicModel):
    """One fill of one of our orders."""

    fill_id: str
    client_order_id: str
    strategy: str
    account: str
    market_id: str
    token_id: str
    side: str
    price: DecimalStr
    size: DecimalStr
    fee: DecimalStr
    liquidity: str
    status: str
    realized_pnl: DecimalStr | None
    traded_at: datetime


# ------------------------------------------------------------------------------- strategies


class StrategyOut(PublicModel):
    """A configured strategy instance: its current config version, mode and runner state."""

    strategy: str
    strategy_class: str
    config_hash: str
    config: dict[str, Any]
    enabled: bool
    mode: Literal["live", "shadow", "disabled"]
    state: str = Field(description="the runner's view (RUNNING, FAULTED, …) or NOT_RUNNING/UNKNOWN")
    error: str
    updated_at: datetime


class StrategyConfigRequest(RequestModel):
    """Create or update a strategy instance's config (validated against the strategy's type)."""

    strategy_class: str = Field(
        min_length=1,
        max_length=200,
        description="registry name (e.g. 'arbitrage') or 'polybot.strategies.<module>:<Class>'",
    )
    config: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class StrategyRun(PublicModel):
    """One run of a strategy (backtest, paper or live) recorded by the runner."""

    run_id: str
    strategy: str
    mode: str
    config_hash: str
    started_at: datetime | None
    ended_at: datetime | None
    status: str
    pid: int | None


class StrategyLogLine(PublicModel):
    """One log line a strategy wrote."""

    run_id: str
    strategy: str
    ts: datetime | None
    level: str
    message: str
    data: Any = None


# -------------------------------------------------------------------------------- analytics


class AnalyticsSummary(PublicModel):
    """Dashboard headline numbers; the analytics part is null while that service is down."""

    markets: int
    open_orders: int
    trades: int
    open_positions: int
    strategies: int
    pnl: PnlFigures
    price_rows: int | None
    trade_rows: int | None
    analytics_available: bool


class PnlDay(PublicModel):
    """Realized PnL, fees and volume of one strategy on one UTC day (from our fills)."""

    day: date
    strategy: str
    realized_pnl: DecimalStr
    fees: DecimalStr
    volume: DecimalStr
    fills: int


class OhlcBar(PublicModel):
    """One bar of the mid price."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    observations: int


class Correlation(PublicModel):
    """Correlation of two markets' mids over a rolling window."""

    market_a: str
    market_b: str
    correlation: float
    observations: int
    window_s: int
    ts: datetime


# ------------------------------------------------------------------------------------- risk


class RiskLimitsOut(PublicModel):
    """The effective risk limits (settings plus runtime overrides), pUSD as decimal strings."""

    max_order_notional: DecimalStr
    max_market_position: DecimalStr
    max_total_exposure: DecimalStr
    max_daily_loss: DecimalStr
    max_open_orders: int
    min_balance: DecimalStr
    max_event_exposure: DecimalStr
    stale_book_ms: int
    kill_switch: bool


class RiskStateOut(PublicModel):
    """How close the book of positions is to the limits."""

    limits: RiskLimitsOut
    kill_switch: bool
    open_orders: int
    total_exposure: DecimalStr
    exposure_by_market: dict[str, DecimalStr]
    daily_pnl: DecimalStr
    daily_loss_headroom: DecimalStr


class RiskLimitChange(RequestModel):
    """Change one limit (validated by the state service against ``RiskLimits``)."""

    name: Literal[
        "max_order_notional",
        "max_market_position",
        "max_total_exposure",
        "max_daily_loss",
        "max_open_orders",
        "min_balance",
        "max_event_exposure",
        "stale_book_ms",
    ]
    value: str | int | float = Field(description="numbers may be sent as strings for exactness")


class KillSwitchRequest(RequestModel):
    """Turn the kill switch on (no new orders) or off."""

    on: bool
    reason: str = Field("", max_length=500)


# ---------------------------------------------------------------------------------- wallets


class WalletOut(PublicModel):
    """A wallet row: public data only (keys live in settings, never here)."""

    id: int
    address: str
    label: str
    funder_address: str | None
    signature_type: int
    chain_id: int
    venue: str
    is_default: bool
    created_at: datetime


_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class WalletCreate(RequestModel):
    """A wallet to track (copy trading) or trade from."""

    address: str = Field(pattern=_ADDRESS)
    label: str = Field("", max_length=100)
    funder_address: str | None = Field(None, pattern=_ADDRESS)
    signature_type: int = Field(0, ge=0, le=3)
    chain_id: int = Field(137, ge=1, le=2**31 - 1)
    venue: Literal["local", "polymarket"] = "local"
    is_default: bool = False


class WalletUpdate(RequestModel):
    """Fields to change on a wallet (omitted ones stay)."""

    label: str | None = Field(None, max_length=100)
    funder_address: str | None = Field(None, pattern=_ADDRESS)
    signature_type: int | None = Field(None, ge=0, le=3)
    venue: Literal["local", "polymarket"] | None = None
    is_default: bool | None = None


# ----------------------------------------------------------------------------------- health


class ServiceHealth(PublicModel):
    """One supervised service as ``polybot status`` sees it."""

    name: str
    status: str
    healthy: bool
    pid: int
    uptime_s: float
    restarts: int
    detail: str


class BusLink(PublicModel):
    """One bus socket of the API and whether its peer (the serving service) is connected."""

    name: str
    service: str
    connected: bool


class WsStats(PublicModel):
    """WebSocket bridge counters."""

    clients: int
    messages_in: int
    frames_out: int
    dropped: int


class HealthOut(PublicModel):
    """Overall health: ``ok`` when every supervised service is healthy and every link is up."""

    status: Literal["ok", "degraded"]
    services: list[ServiceHealth]
    links: list[BusLink]
    websocket: WsStats


class LiveOut(PublicModel):
    """Liveness: the process answers."""

    status: Literal["alive"]


class ReadyOut(PublicModel):
    """Readiness: the API can serve (database readable)."""

    ready: bool
    detail: str


_ERROR_TEXT = {
    400: "the request was refused (the detail says why)",
    401: "the API token is missing or wrong",
    403: "the serving service refused the API's credentials",
    404: "not found",
    409: "conflicts with the current state",
    422: "invalid input",
    503: "a service this route needs is not running or did not answer in time",
    504: "the executor took the request but announced no outcome in time",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI ``responses`` entries documenting these error codes with ``ErrorBody``."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}
