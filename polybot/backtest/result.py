"""BacktestResult: stats, equity, fills, trades, orders and forecasts of one run, displayable.

``stats`` is a ``pd.Series`` (``rejected`` counts the orders the risk gate stopped, and
``rejections`` breaks them down by rule); ``equity``/``fills``/``trades``/``orders``/``forecasts`` are
DataFrames. ``digest`` is a sha256 over the fills (and config hash), so a run can be compared
with a committed golden value. In Jupyter the result renders as a stats table with an equity
sparkline; ``plot()`` returns a Plotly figure (imported lazily).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from polybot.backtest import stats as st
from polybot.engine.engine import StrategyHost


@dataclass
class BacktestResult:
    """Everything one backtest produced for one strategy."""

    strategy: str
    config: dict[str, Any]
    config_hash: str
    stats: pd.Series
    equity: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    orders: pd.DataFrame
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    digest: str = ""
    state: str = "STOPPED"
    rejections: dict[str, int] = field(default_factory=dict)  # risk-gate rejections by rule

    @classmethod
    def from_host(
        cls, host: StrategyHost, *, outcomes: dict[str, str], messages: int, seed: int = 0
    ) -> BacktestResult:
        """Build from an engine host after a run; ``outcomes`` maps market -> winning token."""
        p = host.portfolio
        equity = pd.DataFrame(
            {
                "time": pd.to_datetime(np.asarray(p.equity_ts, dtype="int64"), unit="ns", utc=True),
                "equity": p.equity,
                "exposure": p.exposure,
            }
        )
        fills = pd.DataFrame(
            [
                {
                    "time": pd.Timestamp(ts, unit="ns", tz="UTC"),
                    "market_id": f.market_id,
                    "token_id": f.token_id,
                    "client_order_id": f.client_order_id,
                    "side": f.side,
                    "price": float(f.price),
                    "size": float(f.size),
                    "fee": float(f.fee),
                    "liquidity": f.liquidity,
                }
                for f, ts in zip(p.fills, p.fill_ts_ns, strict=True)
            ],
            columns=[
                "time",
                "market_id",
                "token_id",
                "client_order_id",
                "side",
                "price",
                "size",
                "fee",
                "liquidity",
            ],
        )
        trades = pd.DataFrame(
            [
                {
                    "time": pd.Timestamp(t.ts_ns, unit="ns", tz="UTC"),
                    "market_id": t.market_id,
                    "token_id": t.token_id,
                    "size": float(t.size),
                    "entry_price": float(t.entry_price),
                    "exit_price": float(t.exit_price),
                    "pnl": float(t.pnl),
                    "how": t.how,
                }
                for t in p.closed
            ],
            columns=[
                "time",
                "market_id",
                "token_id",
                "size",
                "entry_price",
                "exit_price",
                "pnl",
                "how",
            ],
        )
        orders = pd.DataFrame(
            [
                {
                    "time_ms": o.timestamp,
                    "client_order_id": o.client_order_id,
                    "token_id": o.token_id,
                    "side": o.side,
                    "price": float(o.price),
                    "size": float(o.original_size),
                    "matched": float(o.size_matched),
                    "status": o.status,
                    "reason": o.reason,
                }
                for o in host.order_log
            ]
        )
        forecasts, calibration = _forecasts(host, outcomes)
        eq = equity["equity"].to_numpy(float)
        ts = np.asarray(p.equity_ts, dtype="int64")
        start = float(p.starting_cash)
        final = float(eq[-1]) if len(eq) else start
        values = {
            "start_equity": start,
            "final_equity": final,
            "return": final / start - 1 if start else 0.0,
            "sharpe": st.sharpe(eq, ts),
            "max_drawdown": st.max_drawdown(eq),
            "trades": len(trades),
            "win_rate": st.win_rate(trades["pnl"].tolist()),
            "fills": len(fills),
            "orders": int(orders["client_order_id"].nunique()) if len(orders) else 0,
            "turnover": float(p.volume) / start if start else 0.0,
            "fees_paid": float(p.fees_paid),
            "avg_exposure": float(
                np.mean(equity["exposure"] / equity["equity"].where(equity["equity"] > 0))
            )
            if len(equity)
            else 0.0,
            "time_in_market": float(np.mean(equity["exposure"] > 0)) if len(equity) else 0.0,
            "rejected": sum(host.rejections.values()),
            "messages": messages,
        }
        if len(forecasts):
            scored = forecasts.dropna(subset=["outcome"])
            values["brier"] = st.brier(scored["p"].tolist(), scored["outcome"].tolist())
            values["brier_market"] = st.brier(scored["mid"].tolist(), scored["outcome"].tolist())
            values["forecasts_scored"] = len(scored)
        return cls(
            strategy=host.name,
            config=host.strategy.config.to_dict(),
            config_hash=host.strategy.config_hash,
            stats=pd.Series(values, name=host.name),
            equity=equity,
            fills=fills,
            trades=trades,
            orders=orders,
            forecasts=forecasts,
            calibration=calibration,
            digest=_digest(host, seed),
            state=host.state,
            rejections=dict(sorted(host.rejections.items())),
        )

    # ---- display ------------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{_fmt(v)}</td></tr>"
            for k, v in self.stats.items()
        )
        params = html.escape(", ".join(f"{k}={v}" for k, v in self.config.items()))
        return (
            f"<div><b>{html.escape(self.strategy)}</b> <code>{self.config_hash}</code> "
            f"<span style='color:#888'>{params}</span><br>{self._sparkline()}"
            f"<table>{rows}</table></div>"
        )

    def __repr__(self) -> str:
        return f"BacktestResult({self.strategy}, return={self.stats['return']:.4%}, fills={len(self.fills)})"

    def _sparkline(self, width: int = 240, height: int = 40) -> str:
        values = self.equity["equity"].to_numpy(float)
        if len(values) < 2:
            return ""
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo or 1.0
        xs = np.linspace(0, width, len(values))
        ys = height - (values - lo) / span * height
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        return (
            f"<svg width='{width}' height='{height}'><polyline fill='none' stroke='#1f77b4' "
            f"points='{points}'/></svg>"
        )

    def plot(self) -> Any:
        """Return a Plotly figure: equity with fills marked, and drawdown below."""
        from plotly.subplots import make_subplots

        fig = make_subplots(
            rows=2,
            cols=1,
            shared_xaxes=True,
            row_heights=[0.7, 0.3],
            subplot_titles=(f"{self.strategy} equity", "drawdown"),
        )
        eq = self.equity
        fig.add_scatter(x=eq["time"], y=eq["equity"], name="equity", row=1, col=1)
        if len(self.fills):
            marks = pd.merge_asof(self.fills.sort_values("time"), eq[["time", "equity"]], on="time")
            for side, color in (("BUY", "green"), ("SELL", "red")):
                part = marks[marks["side"] == side]
                fig.add_scatter(
                    x=part["time"],
                    y=part["equity"],
                    mode="markers",
                    name=side.lower(),
                    marker={"color": color, "size": 6},
                    row=1,
                    col=1,
                )
        peaks = eq["equity"].cummax()
        fig.add_scatter(
            x=eq["time"],
            y=-(peaks - eq["equity"]) / peaks,
            name="drawdown",
            fill="tozeroy",
            row=2,
            col=1,
        )
        fig.update_layout(height=500, showlegend=True)
        return fig


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return html.escape(str(value))


def _forecasts(host: StrategyHost, outcomes: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = getattr(host.strategy, "forecasts", None)
    if not raw:
        return pd.DataFrame(), pd.DataFrame()
    frame = pd.DataFrame(raw, columns=["ts_ns", "market_id", "token_id", "p", "mid"])
    winners = frame["market_id"].map(outcomes)
    frame["outcome"] = np.where(
        winners.isna(), np.nan, (winners == frame["token_id"]).astype(float)
    )
    scored = frame.dropna(subset=["outcome"])
    table = pd.DataFrame(
        st.calibration(scored["p"].tolist(), scored["outcome"].tolist()),
        columns=["bin", "forecast", "observed", "count"],
    )
    return frame, table


def _digest(host: StrategyHost, seed: int) -> str:
    hasher = hashlib.sha256(f"{host.strategy.config_hash}|{seed}".encode())
    for fill, ts in zip(host.portfolio.fills, host.portfolio.fill_ts_ns, strict=True):
        hasher.update(
            f"{ts}|{fill.client_order_id}|{fill.token_id}|{fill.side}|{fill.price}|{fill.size}|"
            f"{fill.fee}|{fill.liquidity}\n".encode()
        )
    return hasher.hexdigest()
