"""The Voila dashboards' layouts: read-only views built from a ``Workbench``.

Each function returns one widget tree; the notebooks in ``dashboards/`` are a title and one call,
so the layouts are importable, testable and identical in Jupyter and Voila. Nothing here places,
cancels or changes anything: dashboards only subscribe and query.

Periodic panels (positions, PnL, logs) refresh on the kernel's loop with ``Every``; a panel whose
service does not answer shows why (e.g. "the state service is not running") and tries again on
the next tick, so a dashboard opened before the stack is up heals itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import pandas as pd

from polybot.analytics.tables import STRATEGY_STATS_CURRENT
from polybot.core.errors import PolybotError
from polybot.notebook.display import GREY, RED, escape, html_table, pnl_style
from polybot.notebook.live import LiveFeed
from polybot.notebook.views import (
    BookView,
    ChartView,
    PriceTableView,
    live_figure,
    plot_times,
)
from polybot.notebook.workbench import Workbench

log = logging.getLogger(__name__)


class Every:
    """Call ``action`` now and then every ``seconds`` on the running loop (until ``stop``)."""

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self.seconds = seconds
        self.action = action
        self._handle: asyncio.TimerHandle | None = None
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # no loop (a script): the action runs once
        self._run()

    def _run(self) -> None:
        try:
            self.action()
        except Exception:
            log.exception("a dashboard panel failed to refresh")
        if self._loop is not None:
            self._handle = self._loop.call_later(self.seconds, self._run)

    def stop(self) -> None:
        """Stop refreshing."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def panel(title: str, css: str) -> tuple[widgets.VBox, widgets.HTML]:
    """Return a titled box and the HTML widget inside it."""
    body = widgets.HTML()
    body.add_class(css)
    return widgets.VBox(
        [widgets.HTML(f"<h3 style='margin:8px 0 4px'>{escape(title)}</h3>"), body]
    ), body


def frame_html(load: Callable[[], Any], empty: str) -> str:
    """Return the HTML of a ``Frame``/DataFrame produced by ``load``, or why there is none."""
    try:
        value = load()
    except PolybotError as exc:
        return f"<div class='pb-error' style='color:{RED}'>{escape(exc)}</div>"
    frame = value.df if hasattr(value, "df") else value
    if frame.empty:
        return f"<div class='pb-empty' style='color:{GREY}'>{escape(empty)}</div>"
    return html_table(frame, cell_style=pnl_style)


def market_monitor(pb: Workbench, *, refresh_s: float = 1.0) -> widgets.VBox:
    """Live prices of every market (filterable), the chosen market's books and mid chart."""
    feed = pb.watch(refresh_s=refresh_s)
    markets = pb.markets().df
    options = [(f"{q[:70]}", m) for q, m in zip(markets.question, markets.market_id, strict=True)]
    chooser = widgets.Dropdown(
        options=options, description="market", layout=widgets.Layout(width="640px")
    )
    first = markets.iloc[0] if not markets.empty else None
    yes = BookView(feed, str(first.yes_token_id) if first is not None else "", 8)
    no = BookView(feed, str(first.no_token_id) if first is not None else "", 8)
    chart = ChartView(feed, [yes.token_id] if first is not None else None, 4)
    table = PriceTableView(feed, "", 40)
    for view in (yes, no, chart, table):
        feed._attach(view)

    if first is not None:
        backfill(pb, feed, [yes.token_id])

    def choose(change: dict[str, Any]) -> None:
        row = markets[markets.market_id == change["new"]].iloc[0]
        yes.token_id, no.token_id = str(row.yes_token_id), str(row.no_token_id)
        backfill(pb, feed, [yes.token_id, no.token_id])
        chart.show([yes.token_id, no.token_id])
        for view in (yes, no):
            view.refresh()

    chooser.observe(choose, names="value")
    books = widgets.HBox([yes.widget, no.widget])
    return widgets.VBox(
        [
            feed_health(feed),
            chooser,
            books,
            chart.widget,
            widgets.HTML("<h3 style='margin:8px 0 4px'>all markets</h3>"),
            table.widget,
        ]
    )


def backfill(pb: Workbench, feed: LiveFeed, token_ids: list[str], limit: int = 500) -> None:
    """Seed the chart's series from ``price_history`` so a quiet market still shows its past."""
    for token in token_ids:
        history = _safe_sql(
            pb,
            "SELECT epoch_ms(ts) AS t, mid FROM price_history WHERE token_id = $token "
            f"ORDER BY ts DESC LIMIT {int(limit)}",
            {"token": token},
        )
        if history is not None and not history.empty:
            feed.backfill(
                token, zip(history["t"][::-1].astype(int), history["mid"][::-1], strict=True)
            )


def feed_health(feed: LiveFeed) -> Any:
    """Return the feed's health widget."""
    return feed.health_view()


# Total PnL per UTC day over all strategies, from the current version of each (strategy, day):
# strategy_stats is append-only, every recomputation adds a version with a later ``as_of``
# (``STRATEGY_STATS_CURRENT``, shared with the analytics service's ``pnl`` query).
EQUITY_SQL = (
    "SELECT ts, sum(realized_pnl + unrealized_pnl) AS pnl, sum(exposure) AS exposure "
    f"FROM ({STRATEGY_STATS_CURRENT}) GROUP BY ts ORDER BY ts"
)


def portfolio(pb: Workbench, *, refresh_s: float = 3.0) -> widgets.VBox:
    """Positions, exposure by market and the equity curve (from strategy stats)."""
    positions_box, positions = panel("positions", "pb-positions")
    risk_box, risk = panel("risk", "pb-risk")
    equity = live_figure(
        layout={
            "height": 300,
            "title": {"text": "equity (realized + unrealized PnL)"},
            "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
        }
    )
    # Markers too: the curve has one point per UTC day, and a line needs two.
    equity.add_scatter(x=[], y=[], mode="lines+markers", name="total PnL")
    exposure = live_figure(
        layout={
            "height": 260,
            "title": {"text": "exposure by market"},
            "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
        }
    )
    exposure.add_bar(x=[], y=[], name="exposure")
    shown: dict[str, object] = {}  # what each figure last drew: redraw only on change

    def redraw(figure: Any, key: str, x: list[Any], y: list[float]) -> None:
        if shown.get(key) == (x, y):
            return
        shown[key] = (x, y)
        with figure.batch_update():
            figure.data[0].x, figure.data[0].y = x, y

    def refresh() -> None:
        positions.value = frame_html(pb.positions, "no open positions")
        try:
            risk.value = pb.risk()._repr_html_()
        except PolybotError as exc:
            risk.value = f"<div class='pb-error' style='color:{RED}'>{escape(exc)}</div>"
        curve = _safe_sql(pb, EQUITY_SQL)
        if curve is not None and not curve.empty:
            redraw(
                equity, "equity", list(plot_times(curve["ts"])), [float(v) for v in curve["pnl"]]
            )
        held = _safe_call(pb.positions)
        if held is not None and not held.empty and "market_id" in held.columns:
            notional = (held["size"] * held["avg_price"]).groupby(held["market_id"]).sum()
            redraw(
                exposure,
                "exposure",
                [str(m)[:10] for m in notional.index],
                [float(v) for v in notional.values],
            )

    box = widgets.VBox([positions_box, widgets.HBox([risk_box]), equity, exposure])
    box._polybot_timer = Every(refresh_s, refresh)  # kept alive with the widget
    return box


def strategy_performance(pb: Workbench, *, refresh_s: float = 3.0) -> widgets.VBox:
    """Per-strategy PnL and stats, runs, and the chosen strategy's newest log lines."""
    stats_box, stats = panel("PnL by strategy", "pb-strategy-stats")
    runs_box, runs = panel("runs", "pb-strategy-runs")
    logs_box, logs = panel("logs", "pb-strategy-logs")
    chooser = widgets.Dropdown(options=[("all strategies", "")], description="strategy")

    def refresh() -> None:
        stats.value = frame_html(pb.pnl_by_strategy, "no strategy has traded yet")
        runs.value = frame_html(pb.history.strategy_runs, "no strategy has run yet")
        logs.value = frame_html(
            lambda: pb.strategy_logs(chooser.value or None, limit=50), "no log lines yet"
        )
        names = _safe_sql(pb, "SELECT DISTINCT strategy FROM strategy_stats ORDER BY 1")
        if names is not None:
            wanted = [("all strategies", ""), *((n, n) for n in names["strategy"])]
            if wanted != list(chooser.options):
                chooser.options = wanted

    chooser.observe(lambda change: refresh(), names="value")
    box = widgets.VBox([stats_box, runs_box, chooser, logs_box])
    box._polybot_timer = Every(refresh_s, refresh)
    return box


def arbitrage_rows(pb: Workbench, feed: LiveFeed) -> pd.DataFrame:
    """Return live basket sums: neg-risk events (YES asks) and binary complements (YES+NO)."""
    markets = pb.markets().df
    prices = feed.price_frame().set_index("token_id")
    rows = []
    for event, group in markets[markets.neg_risk.astype(bool)].groupby("event_slug"):
        asks = prices["ask"].reindex(group["yes_token_id"])
        bids = prices["bid"].reindex(group["yes_token_id"])
        rows.append(
            {
                "kind": "neg-risk",
                "basket": str(event)[:60],
                "legs": len(group),
                "priced": int(asks.notna().sum()),
                "sum_asks": asks.sum(),
                "sum_bids": bids.sum(),
            }
        )
    for row in markets[~markets.neg_risk.astype(bool)].itertuples():
        legs = prices.reindex([row.yes_token_id, row.no_token_id])
        rows.append(
            {
                "kind": "complement",
                "basket": str(row.question)[:60],
                "legs": 2,
                "priced": int(legs["ask"].notna().sum()),
                "sum_asks": legs["ask"].sum(),
                "sum_bids": legs["bid"].sum(),
            }
        )
    frame = pd.DataFrame(rows, columns=["kind", "basket", "legs", "priced", "sum_asks", "sum_bids"])
    frame["buy_edge"] = 1 - frame["sum_asks"]
    frame["sell_edge"] = frame["sum_bids"] - 1
    frame = frame[frame["priced"] == frame["legs"]]
    best = frame[["buy_edge", "sell_edge"]].max(axis=1)
    return frame.loc[best.sort_values(ascending=False).index].reset_index(drop=True)


def arbitrage_scanner(pb: Workbench, *, refresh_s: float = 1.0) -> widgets.VBox:
    """Live neg-risk and complement baskets, best edge first (before fees)."""
    feed = pb.watch(refresh_s=refresh_s)
    table_box, table = panel("baskets (edge before fees; positive = opportunity)", "pb-arbitrage")

    def refresh() -> None:
        rows = arbitrage_rows(pb, feed)
        if rows.empty:
            table.value = f"<div class='pb-empty' style='color:{GREY}'>waiting for prices…</div>"
        else:
            table.value = html_table(rows.round(4), max_rows=40, cell_style=_edge_style)

    box = widgets.VBox([feed_health(feed), table_box])
    box._polybot_timer = Every(refresh_s, refresh)
    return box


def _edge_style(column: str, value: object) -> str:
    if column.endswith("_edge") and isinstance(value, float) and value > 0:
        return "color:#1a7f37;font-weight:600"
    return ""


def _safe_sql(pb: Workbench, query: str, params: Any = None) -> pd.DataFrame | None:
    try:
        return pb.sql(query, params)
    except PolybotError:
        return None


def _safe_call(load: Callable[[], Any]) -> pd.DataFrame | None:
    try:
        value = load()
    except PolybotError:
        return None
    return value.df if hasattr(value, "df") else value
