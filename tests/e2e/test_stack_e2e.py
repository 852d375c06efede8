"""The whole stack, for real: ``polybot up`` brings up the local venue, state, executor, scanner,
analytics and runner; a strategy enabled in ``strategy_configs`` trades through the executor; the
fill lands as a position with PnL in SQLite and as rows in DuckDB; ``polybot down`` leaves no
process and no socket behind. Once in paper mode and once in live mode (orders on the venue)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from polybot.bus.endpoints import Requester
from polybot.bus.messages import BookSnapshot
from polybot.bus.nng import Subscriber
from polybot.core.errors import BusTimeout
from polybot.storage.duck_read import DuckQueryClient
from polybot.storage.models import StrategyConfig
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.testing.stack import IsolatedStack, wait_until

REPO = Path(__file__).resolve().parents[2]
STRATEGIES = REPO / "tests" / "services"  # test_runner_strategies:Taker
EXPECTED = {"venue", "state", "executor", "scanner", "analytics", "runner"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(params=["paper", "live"])
def stack(request: pytest.FixtureRequest) -> Iterator[IsolatedStack]:
    """``polybot up`` of a private stack (its own data dir, ipc sockets and ports)."""
    running = IsolatedStack(
        prefix="pbe2e-",
        executor_mode=request.param,
        markets=20,
        pythonpath=[STRATEGIES, REPO],
    )
    running.start()
    try:
        yield running
    finally:
        leftovers = running.stop()
    assert not leftovers, f"left behind after polybot down: {leftovers}"


def pick_token(settings: Any) -> tuple[str, str, float]:
    """Return (market, token, ask) of a book the scanner publishes with asks."""
    with Subscriber(settings.bus.prices_pub, topics=[]) as prices:
        prices.subscribe_to(BookSnapshot)

        def seen() -> tuple[str, str, float] | None:
            try:
                book = prices.recv(timeout=0.5)
            except BusTimeout:
                return None
            if isinstance(book, BookSnapshot) and book.asks and 0.05 <= book.asks[0].price <= 0.9:
                return book.market_id, book.token_id, book.asks[0].price
            return None

        picked: tuple[str, str, float] = wait_until(seen, 90, "a book with asks on prices.pub")
        return picked


def enable_taker(settings: Any, token_id: str) -> None:
    config = {
        "token_id": token_id,
        "max_orders": 1,
        "min_notional": "2",
        "slippage": "0.03",
        "tag": "e2e",
    }
    engine = make_engine(settings.sqlite_path)
    with make_session_factory(engine)() as session, session.begin():
        session.add(
            StrategyConfig(
                strategy="e2e",
                strategy_class="test_runner_strategies:Taker",
                config_hash="e2e-1",
                config=json.dumps(config),
            )
        )
    engine.dispose()


def journal(settings: Any) -> list[tuple[str, str, str]]:
    """Return (signal id, status, reason) of every journalled signal (for failure messages)."""
    engine = make_engine(settings.sqlite_path, read_only=True)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT signal_id, status, reason FROM signal_journal ORDER BY id"
        ).all()
    engine.dispose()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_a_strategy_trades_through_the_whole_stack(stack: IsolatedStack) -> None:
    settings = stack.settings
    assert {s.name for s in stack.plan.services} >= EXPECTED, "a service is missing"
    market_id, token_id, _ = pick_token(settings)
    enable_taker(settings, token_id)

    with Requester(settings.bus.state_req) as state:

        def ask(command: str, args: dict[str, Any] | None = None, token: str = "") -> Any:
            reply = state.call(command, args, token=token, timeout=10)
            assert reply.ok, reply.error
            return reply.result

        # A new strategy runs in shadow until an operator enables it as live (audited command).
        token = (settings.data_dir / "api_token").read_text().strip()
        assert ask("strategy.enable", {"strategy": "e2e", "actor": "e2e"}, token)["mode"] == "live"

        def filled_order() -> dict[str, Any] | None:
            orders = ask("orders", {"status": "all", "strategy": "e2e"})
            return next((o for o in orders if Decimal(o["size_matched"]) > 0), None)

        try:
            order = wait_until(filled_order, 90, "the e2e order to fill")
        except AssertionError as exc:
            runner_log = (settings.data_dir / "logs" / "runner.log").read_text().splitlines()
            raise AssertionError(
                f"{exc}; signal journal: {journal(settings)}; strategies: "
                f"{ask('strategies')}; runner log: {runner_log[-15:]}"
            ) from None
        assert order["token_id"] == token_id
        assert order["market_id"] == market_id
        if stack.executor_mode == "live":
            assert order["venue_order_id"], "a live order carries the venue's order id"
        [trade] = wait_until(lambda: ask("trades", {"strategy": "e2e"}), 60, "the fill row")
        assert Decimal(trade["size"]) == Decimal(order["size_matched"])
        [position] = wait_until(lambda: ask("positions", {"strategy": "e2e"}), 60, "the position")
        assert Decimal(position["size"]) == Decimal(trade["size"])
        pnl = ask("pnl")["by_strategy"]["e2e"]
        assert Decimal(pnl["exposure"]) > 0
        strategies = {s["strategy"]: s for s in ask("strategies")["strategies"]}
        assert (strategies["e2e"]["state"], strategies["e2e"]["mode"]) == ("RUNNING", "live")
        assert [a["command"] for a in ask("audit")] == ["strategy.enable"]

    with DuckQueryClient(settings.bus.analytics_req) as analytics:

        def analytics_rows() -> bool:
            prices = analytics.query("SELECT count(*) AS n FROM price_history").to_pylist()[0]["n"]
            stats = analytics.query(
                "SELECT count(*) AS n FROM strategy_stats WHERE strategy = 'e2e'"
            ).to_pylist()[0]["n"]
            return bool(prices and stats)

        wait_until(analytics_rows, 90, "price_history and e2e strategy_stats rows in DuckDB")

    with DuckQueryClient(settings.bus.strategy_logs_req) as logs:
        decisions = wait_until(
            lambda: logs.query(
                "SELECT message FROM strategy_logs WHERE strategy = 'e2e' AND message = 'fill'"
            ).to_pylist(),
            60,
            "the fill decision in strategy_logs",
        )
        assert decisions


SEED_STRATEGIES = {
    "arbitrage": "polybot.strategies.arbitrage:Arbitrage",
    "stat_arb": "polybot.strategies.stat_arb:StatArb",
    "ai_model": "polybot.strategies.ai_model:AIModel",
    "spread_farm": "polybot.strategies.spread_farm:SpreadFarm",
    "copy_trade": "polybot.strategies.copy_trade:CopyTrade",
}


@pytest.mark.parametrize("stack", ["live"], indirect=True)
def test_the_five_seed_strategies_run_in_the_runner_against_the_local_venue(
    stack: IsolatedStack,
) -> None:
    settings = stack.settings
    engine = make_engine(settings.sqlite_path)
    with make_session_factory(engine)() as session, session.begin():
        for name, cls in SEED_STRATEGIES.items():
            session.add(
                StrategyConfig(
                    strategy=name, strategy_class=cls, config_hash=f"{name}-1", config="{}"
                )
            )
    engine.dispose()
    token = (settings.data_dir / "api_token").read_text().strip()
    with Requester(settings.bus.state_req) as state:
        for name in SEED_STRATEGIES:
            reply = state.call(
                "strategy.enable", {"strategy": name, "actor": "e2e"}, token=token, timeout=10
            )
            assert reply.ok, reply.error

    def runner_strategies() -> dict[str, Any] | None:
        with Requester(settings.bus.strategy_logs_req) as runner:
            try:
                reply = runner.call("runner.status", timeout=5)
            except BusTimeout:
                return None
        strategies: dict[str, Any] = reply.result["strategies"] if reply.ok else {}
        return strategies if set(SEED_STRATEGIES) <= set(strategies) else None

    def all_running_and_trading() -> dict[str, Any] | None:
        strategies = runner_strategies()
        if strategies is None:
            return None
        faulted = {n: s["error"] for n, s in strategies.items() if s["state"] != "RUNNING"}
        assert not faulted, f"strategies not running: {faulted}"
        # The spread farm quotes both sides of its markets as soon as it has books.
        return strategies if any(s["signals"] > 0 for s in strategies.values()) else None

    strategies = wait_until(all_running_and_trading, 180, "the seed strategies to run and trade")
    assert {strategies[name]["mode"] for name in SEED_STRATEGIES} == {"live"}
