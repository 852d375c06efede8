"""Per-strategy accounting from fills: cash, positions, fees, realized trades, equity samples.

Average-cost bookkeeping: a buy adds to the lot at its price (plus fee); a sell or a resolution
closes part of the lot and books one trade row with its PnL. Resolution pays 1 per winning share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from polybot.bus.messages import Fill

_ZERO = Decimal(0)


@dataclass(slots=True)
class ClosedTrade:
    """A realized round trip (or part of one)."""

    ts_ns: int
    market_id: str
    token_id: str
    size: Decimal
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    how: str  # "sell" or "resolution"


@dataclass(slots=True)
class Portfolio:
    """One strategy's book of account."""

    starting_cash: Decimal
    cash: Decimal = _ZERO
    positions: dict[str, Decimal] = field(default_factory=dict)
    avg_cost: dict[str, Decimal] = field(default_factory=dict)
    token_market: dict[str, str] = field(default_factory=dict)
    fees_paid: Decimal = _ZERO
    volume: Decimal = _ZERO  # pUSD notional traded (turnover numerator)
    fills: list[Fill] = field(default_factory=list)
    fill_ts_ns: list[int] = field(default_factory=list)
    closed: list[ClosedTrade] = field(default_factory=list)
    equity_ts: list[int] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    exposure: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cash = self.starting_cash

    def position(self, token_id: str) -> Decimal:
        """Return shares held of ``token_id``."""
        return self.positions.get(token_id, _ZERO)

    def apply_fill(self, fill: Fill, ts_ns: int) -> None:
        """Book one fill."""
        self.fills.append(fill)
        self.fill_ts_ns.append(ts_ns)
        token = fill.token_id
        self.token_market[token] = fill.market_id
        held = self.position(token)
        notional = fill.price * fill.size
        self.volume += notional
        self.fees_paid += fill.fee
        self.cash -= fill.fee
        if fill.side == "BUY":
            self.cash -= notional
            cost = self.avg_cost.get(token, _ZERO) * held + notional + max(fill.fee, _ZERO)
            held += fill.size
            self.avg_cost[token] = cost / held
        else:
            self.cash += notional
            entry = self.avg_cost.get(token, fill.price)
            closing = min(fill.size, max(held, _ZERO))
            if closing > 0:
                self.closed.append(
                    ClosedTrade(
                        ts_ns,
                        fill.market_id,
                        token,
                        closing,
                        entry,
                        fill.price,
                        (fill.price - entry) * closing - max(fill.fee, _ZERO),
                        "sell",
                    )
                )
            held -= fill.size
        if held == 0:
            self.positions.pop(token, None)
            self.avg_cost.pop(token, None)
        else:
            self.positions[token] = held

    def settle(
        self, market_id: str, asset_ids: tuple[str, ...], winning_token_id: str, ts_ns: int
    ) -> None:
        """Pay 1 per winning share and close every position of the market."""
        for token in asset_ids:
            held = self.positions.pop(token, _ZERO)
            entry = self.avg_cost.pop(token, _ZERO)
            if held == 0:
                continue
            payout = Decimal(1) if token == winning_token_id else _ZERO
            self.cash += held * payout
            self.closed.append(
                ClosedTrade(
                    ts_ns,
                    market_id,
                    token,
                    held,
                    entry,
                    payout,
                    (payout - entry) * held,
                    "resolution",
                )
            )

    def mark(self, ts_ns: int, marks: dict[str, float]) -> None:
        """Record equity (cash + positions at ``marks``) and gross exposure at ``ts_ns``."""
        exposure = 0.0
        for token, held in self.positions.items():
            exposure += float(held) * marks.get(token, float(self.avg_cost.get(token, _ZERO)))
        self.equity_ts.append(ts_ns)
        self.equity.append(float(self.cash) + exposure)
        self.exposure.append(abs(exposure))
