"""strategy_stats: PnL, win rate, Sharpe and max drawdown per strategy and UTC day, from fills.

Accounting (documented in docs/services-data.md, checked against hand-computed numbers in tests):

* Positions are per (strategy, token), average cost. A fill that reduces a position *closes*
  shares and realizes ``closed × (exit − average entry)`` (mirrored for a short); the remainder,
  if the fill flips the position, opens at the fill price.
* ``realized_pnl`` of a day = realized PnL of its fills minus every fee paid that day.
* A *trade* is a fill that closes shares; its PnL is its realized PnL minus its own fee. ``wins``
  counts trades with PnL > 0; ``win_rate`` = wins / trades.
* ``sharpe`` = mean / sample standard deviation of the day's trade PnLs (per trade, not
  annualized); NULL with fewer than two trades or no dispersion.
* ``max_drawdown`` = the largest fall of the day's cumulative net PnL (starting at 0 at midnight
  UTC, stepping at each fill) below its running peak; >= 0.
* ``unrealized_pnl`` and ``exposure`` mark the positions held at the end of the day (or now, for
  today) at the last mid known by then: ``Σ size × (mid − average entry)`` and ``Σ |size| × mid``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from polybot.analytics.tables import EFFECTIVE_FILLS
from polybot.storage.duck_owner import DuckWriter

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class FillInput:
    """One effective fill, as the statistics need it."""

    strategy: str
    token_id: str
    side: str  # BUY | SELL
    price: float
    size: float
    fee: float
    ts: datetime  # naive UTC


@dataclass(slots=True)
class _Position:
    size: float = 0.0  # signed shares: > 0 long, < 0 short
    average: float = 0.0  # average entry price of the open shares


@dataclass(slots=True)
class DayStats:
    """One (strategy, day) row before marking to market."""

    strategy: str
    day: datetime
    fills: int = 0
    volume: float = 0.0
    fees: float = 0.0
    realized_pnl: float = 0.0
    trade_pnls: list[float] = field(default_factory=list)
    max_drawdown: float = 0.0
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # token → (size, avg)
    signals: int = 0
    orders: int = 0

    @property
    def trades(self) -> int:
        """Return how many fills closed shares."""
        return len(self.trade_pnls)

    @property
    def wins(self) -> int:
        """Return how many trades made money."""
        return sum(1 for pnl in self.trade_pnls if pnl > 0)

    @property
    def win_rate(self) -> float | None:
        """Return wins / trades (None without trades)."""
        return self.wins / self.trades if self.trade_pnls else None

    @property
    def sharpe(self) -> float | None:
        """Return the per-trade Sharpe ratio (None below two trades or without dispersion)."""
        if len(self.trade_pnls) < 2:
            return None
        spread = statistics.stdev(self.trade_pnls)
        return statistics.fmean(self.trade_pnls) / spread if spread > 0 else None


def day_of(ts: datetime) -> datetime:
    """Return the UTC midnight starting ``ts``'s day."""
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _apply(position: _Position, side: str, price: float, size: float) -> float | None:
    """Apply one fill; return the realized PnL of the shares it closed (None if it closed none)."""
    direction = 1.0 if side == "BUY" else -1.0
    if position.size * direction >= 0:  # opening or adding
        total = abs(position.size) + size
        position.average = (abs(position.size) * position.average + size * price) / total
        position.size += direction * size
        return None
    closed = min(size, abs(position.size))
    # Long closed by a sell: exit − entry; short closed by a buy: entry − exit.
    realized = closed * (price - position.average) * (-direction)
    position.size += direction * closed
    remainder = size - closed
    if remainder > 0:
        position.size = direction * remainder
        position.average = price
    elif math.isclose(position.size, 0.0, abs_tol=1e-12):
        position.size, position.average = 0.0, 0.0
    return realized


def daily_stats(fills: Iterable[FillInput]) -> dict[tuple[str, datetime], DayStats]:
    """Return the stats of every (strategy, day) with fills; ``fills`` must be in time order."""
    positions: dict[tuple[str, str], _Position] = {}
    days: dict[tuple[str, datetime], DayStats] = {}
    curve: dict[tuple[str, datetime], tuple[float, float]] = {}  # → (cumulative, peak)
    for fill in fills:
        key = (fill.strategy, day_of(fill.ts))
        stats = days.get(key)
        if stats is None:
            stats = days[key] = DayStats(fill.strategy, key[1])
        position = positions.setdefault((fill.strategy, fill.token_id), _Position())
        realized = _apply(position, fill.side, fill.price, fill.size)
        stats.fills += 1
        stats.volume += fill.price * fill.size
        stats.fees += fill.fee
        net = (realized or 0.0) - fill.fee
        stats.realized_pnl += net
        if realized is not None:
            stats.trade_pnls.append(net)
        cumulative, peak = curve.get(key, (0.0, 0.0))
        cumulative += net
        peak = max(peak, cumulative)
        curve[key] = (cumulative, peak)
        stats.max_drawdown = max(stats.max_drawdown, peak - cumulative)
        stats.positions = {
            token: (p.size, p.average)
            for (strategy, token), p in positions.items()
            if strategy == fill.strategy and p.size != 0
        }
    return days


def mark(
    positions: Mapping[str, tuple[float, float]], mids: Mapping[str, float]
) -> tuple[float, float]:
    """Return ``(unrealized_pnl, exposure)`` of positions at ``mids`` (unpriced tokens skipped)."""
    unrealized = exposure = 0.0
    for token, (size, average) in positions.items():
        mid = mids.get(token)
        if mid is None:
            continue
        unrealized += size * (mid - average)
        exposure += abs(size) * mid
    return unrealized, exposure


def stats_row(
    stats: DayStats, *, unrealized_pnl: float, exposure: float, as_of: datetime
) -> tuple[Any, ...]:
    """Return the ``strategy_stats`` row (``tables.STRATEGY_STATS_V2`` column order)."""
    return (
        stats.strategy,
        stats.day,
        stats.signals,
        stats.orders,
        stats.fills,
        stats.volume,
        stats.fees,
        stats.realized_pnl,
        unrealized_pnl,
        exposure,
        stats.trades,
        stats.wins,
        stats.win_rate,
        stats.sharpe,
        stats.max_drawdown,
        as_of,
    )


def with_activity(
    days: dict[tuple[str, datetime], DayStats],
    activity: Sequence[tuple[str, datetime, str, int]],
) -> dict[tuple[str, datetime], DayStats]:
    """Add signal/order counts (``(strategy, day, kind, count)`` rows); days without fills too."""
    for strategy, day, kind, count in activity:
        key = (strategy, day)
        stats = days.get(key)
        if stats is None:
            stats = days[key] = DayStats(strategy, day)
        if kind == "signal":
            stats.signals = count
        elif kind == "order":
            stats.orders = count
    return days


def last_mids(con: Any, tokens: Sequence[str], before: datetime) -> dict[str, float]:
    """Return the last mid of each token strictly before ``before`` (from price_history)."""
    if not tokens:
        return {}
    rows = con.execute(
        "SELECT token_id, arg_max(mid, ts) FROM price_history "
        "WHERE list_contains(?::VARCHAR[], token_id) AND ts < ? GROUP BY token_id",
        [list(tokens), before],
    ).fetchall()
    return {str(token): float(mid) for token, mid in rows}


class StatsJob:
    """Recompute strategy_stats from the owned file; append only versions that changed.

    Run it in a worker thread (it reads through its own cursor and appends through the writer).
    """

    def __init__(self, writer: DuckWriter) -> None:
        self._writer = writer
        self._written: dict[tuple[str, datetime], tuple[Any, ...]] = {}
        self.rows_written = 0

    def run(self, strategies: Iterable[str] | None, now: datetime) -> int:
        """Recompute the given strategies (all when None) as of ``now``; return rows appended."""
        wanted = None if strategies is None else sorted(set(strategies))
        if wanted == []:
            return 0
        where = "" if wanted is None else "WHERE list_contains(?::VARCHAR[], strategy)"
        params = [] if wanted is None else [wanted]
        self._writer.flush()  # the job reads the file: buffered rows must be in it
        con = self._writer.cursor()
        try:
            fills = con.execute(
                "SELECT strategy, token_id, side, price, size, fee, ts "
                f"FROM ({EFFECTIVE_FILLS}) {where} ORDER BY ts, received_at",
                params,
            ).fetchall()
            activity = con.execute(
                "SELECT strategy, date_trunc('day', ts) AS day, kind, count(DISTINCT ref_id) "
                f"FROM strategy_activity {where} GROUP BY ALL",
                params,
            ).fetchall()
            days = with_activity(daily_stats(FillInput(*row) for row in fills), activity)
            rows = []
            for key, stats in sorted(days.items()):
                cutoff = min(stats.day + DAY, now)
                mids = last_mids(con, list(stats.positions), cutoff) if stats.positions else {}
                unrealized, exposure = mark(stats.positions, mids)
                row = stats_row(stats, unrealized_pnl=unrealized, exposure=exposure, as_of=now)
                if self._written.get(key) != row[:-1]:
                    rows.append(row)
                    self._written[key] = row[:-1]
        finally:
            con.close()
        if rows:
            self._writer.extend("strategy_stats", rows)
            self._writer.flush("strategy_stats")
            self.rows_written += len(rows)
        return len(rows)
