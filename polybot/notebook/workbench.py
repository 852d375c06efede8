"""``connect()`` and the ``Workbench``: one object per notebook that reaches the whole stack.

Every part is created on first use (a price feed, the query clients, the signal pusher), so
``connect()`` itself is instant and works whether or not the stack runs — its display says
which. Anything that needs a service that is not there raises ``StackNotRunning`` with the
command that fixes it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

import pandas as pd

from polybot.config import Settings, load_settings
from polybot.notebook.connection import StackStatus, read_status, run_cli
from polybot.notebook.display import GREY, Frame
from polybot.notebook.live import LiveFeed
from polybot.notebook.sql import OHLC, Correlations, Database, History
from polybot.notebook.state import RiskState, StateClient
from polybot.notebook.trading import MANUAL, Ticket, Trader

Side = Literal["BUY", "SELL"]


class Workbench:
    """The notebook's door to a PolyBot stack (see ``connect``)."""

    def __init__(self, settings: Settings, *, strategy: str = MANUAL) -> None:
        self.settings = settings
        self.strategy = strategy
        self.history = History(settings)
        self.state = StateClient(settings)
        self._trader: Trader | None = None
        self._feeds: list[LiveFeed] = []
        self._markets: pd.DataFrame | None = None

    # ---- the stack ------------------------------------------------------------------------
    def status(self) -> StackStatus:
        """Return the stack's status (displays as a table of services)."""
        return read_status(self.settings.data_dir.resolve())

    def start(self, timeout: float = 240.0) -> StackStatus:
        """Start the stack against the configured venue (local by default) and wait for it."""
        if self.status().running:
            return self.status()
        from polybot.notebook.research import strategy_dir

        # Strategies written from notebooks live in data/strategies; the runner imports them.
        path = os.pathsep.join(
            filter(None, [str(strategy_dir(self.settings)), os.environ.get("PYTHONPATH", "")])
        )
        os.environ["PYTHONPATH"] = path
        code, output = run_cli(
            self.settings, "up", "--timeout", str(timeout), timeout_s=timeout + 60
        )
        status = self.status()
        if code != 0:
            raise RuntimeError(f"`polybot up` failed (exit {code}):\n{output[-2000:]}")
        return status

    def stop(self, timeout: float = 120.0) -> StackStatus:
        """Stop the stack gracefully (``polybot down``)."""
        self.close()
        run_cli(self.settings, "down", timeout_s=timeout)
        return self.status()

    # ---- markets --------------------------------------------------------------------------
    def markets(self, search: str = "", *, refresh: bool = False) -> Frame:
        """Return the known markets (from the scanner's ``markets`` table), optionally filtered."""
        if self._markets is None or refresh:
            self._markets = _load_markets(self.settings)
        frame = self._markets
        if search:
            needle = search.lower()
            mask = frame["question"].str.lower().str.contains(needle, regex=False) | frame[
                "slug"
            ].str.lower().str.contains(needle, regex=False)
            frame = frame[mask]
        return Frame(
            frame.reset_index(drop=True),
            "markets",
            empty_hint="the scanner has not listed any market yet",
        )

    def labels(self) -> dict[str, str]:
        """Return ``token_id → "question · outcome"`` for every known market."""
        if self._markets is None or self._markets.empty:
            self._markets = _load_markets(self.settings)
        labels: dict[str, str] = {}
        for row in self._markets.itertuples():
            question = str(row.question)[:60]
            labels[str(row.yes_token_id)] = f"{question} · {row.yes_outcome}"
            labels[str(row.no_token_id)] = f"{question} · {row.no_outcome}"
        return labels

    def _market_of_token(self, token_id: str) -> tuple[str, int]:
        if self._markets is None or token_id not in set(self._markets["yes_token_id"]) | set(
            self._markets["no_token_id"]
        ):
            self._markets = _load_markets(self.settings)
        for row in self._markets.itertuples():
            if token_id == row.yes_token_id:
                return str(row.market_id), 0
            if token_id == row.no_token_id:
                return str(row.market_id), 1
        raise KeyError(f"unknown token {token_id!r}: pb.markets() lists the known ones")

    # ---- live data ------------------------------------------------------------------------
    def watch(self, markets: Sequence[str] | str | None = None, **options: Any) -> LiveFeed:
        """Subscribe to live prices/books/trades of some markets (condition ids), or all.

        Reading happens on the kernel's event loop, off the cell; ``feed.table()``,
        ``feed.chart()``, ``feed.book_view(token)`` and ``feed.status`` show it.
        """
        chosen = [markets] if isinstance(markets, str) else markets
        labels = self.labels()
        options.setdefault("snapshots", self.settings.bus.snapshots_req)
        feed = LiveFeed(self.settings.bus.prices_pub, markets=chosen, labels=labels, **options)
        self._feeds.append(feed)
        return feed

    # ---- history (SQL) --------------------------------------------------------------------
    def sql(
        self, query: str, params: Any = None, *, database: Database = "analytics"
    ) -> pd.DataFrame:
        """Run read-only SQL on ``analytics`` (default) or ``strategy_logs``; return a DataFrame."""
        return self.history.sql(query, params, database=database)

    def ohlc(self, token_id: str, interval: str = "1m", *, since: str | None = None) -> OHLC:
        """Return mid candles of one token (``.plot()`` draws them)."""
        return self.history.ohlc(token_id, interval, since=since)

    def correlations(
        self, token_ids: list[str] | None = None, interval: str = "1m", *, top: int = 12
    ) -> Correlations:
        """Return correlations of mid changes (``.plot()`` draws a heatmap)."""
        return self.history.correlations(token_ids, interval, top=top, labels=self.labels())

    def pnl_by_strategy(self) -> Frame:
        """Return each strategy's latest PnL, fees, volume and exposure."""
        return self.history.pnl_by_strategy()

    def strategy_logs(self, strategy: str | None = None, *, limit: int = 200) -> Frame:
        """Return the runner's newest log lines."""
        return self.history.strategy_logs(strategy, limit=limit)

    # ---- trading --------------------------------------------------------------------------
    @property
    def trader(self) -> Trader:
        """Return the signal sender (created on first use)."""
        if self._trader is None:
            self._trader = Trader(self.settings, strategy=self.strategy)
        return self._trader

    def order(
        self,
        token_id: str,
        side: Side,
        size: float | Decimal,
        price: float | Decimal,
        *,
        wait: bool = True,
        timeout: float = 10.0,
        **extra: Any,
    ) -> Ticket:
        """Send a limit order as a signal through the executor's risk checks; return its ticket.

        ``extra`` may set any signal field (``order_type="FOK"``, ``post_only=True``,
        ``reason=…``). With ``wait`` (default) the call returns once the fate is known.
        """
        market_id, index = self._market_of_token(token_id)
        action = f"{side}_{'YES' if index == 0 else 'NO'}"
        signal = self.trader.order(market_id, token_id, action, float(size), float(price), **extra)
        return self.trader.send(signal, wait=wait, timeout=timeout)

    def buy(
        self, token_id: str, size: float | Decimal, price: float | Decimal, **extra: Any
    ) -> Ticket:
        """Buy ``size`` shares of ``token_id`` at ``price`` or better (see ``order``)."""
        return self.order(token_id, "BUY", size, price, **extra)

    def sell(
        self, token_id: str, size: float | Decimal, price: float | Decimal, **extra: Any
    ) -> Ticket:
        """Sell ``size`` shares of ``token_id`` at ``price`` or better (see ``order``)."""
        return self.order(token_id, "SELL", size, price, **extra)

    def tickets(self) -> Frame:
        """Return every signal sent from this notebook with its fate."""
        return Frame(self.trader.ticket_frame(), "tickets", empty_hint="no signal sent yet")

    def positions(self, strategy: str | None = None) -> Frame:
        """Return open positions from the state service."""
        return self.state.positions(strategy)

    def orders(self, status: str = "open", strategy: str | None = None) -> Frame:
        """Return orders from the state service (``status``: open, all, MATCHED…)."""
        return self.state.orders(status, strategy)

    def risk(self) -> RiskState:
        """Return the risk limits, the kill switch and current usage."""
        return self.state.risk()

    def kill_switch(self, on: bool = True, reason: str = "from a notebook") -> Any:
        """Turn the kill switch on (stop all new orders) or off."""
        return self.state.kill_switch(on, reason)

    # ---- research -------------------------------------------------------------------------
    @property
    def strategy_dir(self) -> Any:
        """Return the directory for strategy modules the runner can import."""
        from polybot.notebook.research import strategy_dir

        return strategy_dir(self.settings)

    def import_strategies(self, module: str) -> Any:
        """Import (or reload) a strategy module written to ``strategy_dir``."""
        from polybot.notebook.research import import_strategies

        return import_strategies(self.settings, module)

    def sample_data(self, minutes: float = 10.0, seed: int = 11) -> Any:
        """Return a generated local-venue recording (offline, deterministic) for backtests."""
        from polybot.notebook.research import sample_data

        return sample_data(minutes, seed)

    def recording(self) -> Any:
        """Return the stack's own recording (what the scanner saw), for backtests."""
        from polybot.recording.store import RecordStore

        return RecordStore(self.settings.data_dir.resolve() / "recordings")

    def backtest(self, strategy: Any, data: Any = None, **options: Any) -> Any:
        """Backtest on ``data`` (default: the stack's recording, else the bundled sample)."""
        from polybot.notebook.research import run_backtest

        return run_backtest(self.settings, strategy, data, **options)

    def optimize(
        self, strategy_type: Any, data: Any = None, *, maximize: str = "return", **grid: Any
    ) -> Any:
        """Grid-search parameters (``param=[values…]``); returns best run + heatmap-able grid."""
        from polybot.notebook.research import run_optimize

        return run_optimize(self.settings, strategy_type, data, maximize=maximize, **grid)

    def strategies(self) -> Frame:
        """Return every configured strategy instance with its mode and live runner state."""
        return self.state.strategies()

    def deploy(
        self, strategy: Any, name: str | None = None, *, enabled: bool = True, wait: float = 0.0
    ) -> Frame:
        """Hand ``strategy`` (class + config) to the production runner via ``strategy_configs``.

        With ``wait`` > 0, block up to that many seconds until the runner reports the instance
        (RUNNING, or why not) and return the strategies table instead.
        """
        from polybot.notebook.research import deploy

        deployed = deploy(self.settings, strategy, name, enabled=enabled)
        if wait <= 0:
            return deployed
        instance = str(deployed.df["strategy"].iloc[0])
        deadline = time.monotonic() + wait
        while True:
            table = self.strategies()
            row = table.df[table.df["strategy"] == instance] if len(table) else table.df
            state = str(row["state"].iloc[0]) if len(row) else "NOT_RUNNING"
            if state != "NOT_RUNNING" or time.monotonic() >= deadline:
                return table
            time.sleep(0.5)

    # ---- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close every socket this workbench opened (feeds keep their last state)."""
        for feed in self._feeds:
            feed.close()
        self._feeds.clear()
        if self._trader is not None:
            self._trader.close()
            self._trader = None
        self.history.close()
        self.state.close()

    def __repr__(self) -> str:
        return f"Workbench({self.status()!r})"

    def _repr_html_(self) -> str:
        hint = (
            f"<div style='color:{GREY};font-size:11px'>pb.watch() · pb.sql() · pb.ohlc() · "
            "pb.buy() · pb.positions() · pb.backtest() · pb.deploy()</div>"
        )
        return self.status()._repr_html_() + hint


def connect(*, start: bool = False, strategy: str = MANUAL, **overrides: Any) -> Workbench:
    """Return a ``Workbench`` for the stack configured by env / ``polybot.toml`` (+ ``overrides``).

    ``start=True`` starts the stack first when it is not running. Signals sent from this
    workbench carry ``strategy`` as their strategy name (positions and PnL are kept under it);
    the default ``manual`` is live, any other name trades in shadow until enabled.
    """
    bench = Workbench(load_settings(**overrides), strategy=strategy)
    if start:
        bench.start()
    return bench


_MARKET_COLUMNS = [
    "market_id",
    "question",
    "slug",
    "event_slug",
    "yes_token_id",
    "no_token_id",
    "yes_outcome",
    "no_outcome",
    "tick_size",
    "neg_risk",
    "is_active",
    "is_closed",
    "winning_token_id",
]


def _load_markets(settings: Settings) -> pd.DataFrame:
    path = settings.sqlite_path.resolve()
    if not path.exists():
        return pd.DataFrame(columns=_MARKET_COLUMNS)
    from sqlalchemy import text

    from polybot.storage.sqlite import make_engine

    engine = make_engine(path, read_only=True)
    try:
        with engine.connect() as connection:
            rows = (
                connection.execute(
                    text(
                        f"SELECT {', '.join(_MARKET_COLUMNS)} FROM markets ORDER BY event_slug, question"
                    )
                )
                .mappings()
                .all()
            )
    finally:
        engine.dispose()
    return pd.DataFrame([dict(r) for r in rows], columns=_MARKET_COLUMNS)
