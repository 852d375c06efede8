"""Market resolutions settle positions: exact realized PnL, exposure freed, once, across restarts.

The first tests drive the real ledger, tracker and settler on a real migrated SQLite file; the
last ones run the real executor process against the local venue (HTTP + WS): the market resolves
at the venue, the resolution arrives on ``prices.pub`` as the scanner would publish it — or, when
the executor was down, is found at the venue on start.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from executor_stack import Stack, VenueProcess, wait_until
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_live_executor import below_bid, best, command, signal

from polybot.bus import codec
from polybot.bus.messages import Event, Fill, MarketResolved, Message, OrderUpdate, Signal
from polybot.core.clock import wall_ms
from polybot.execution.intake import OrderPlan
from polybot.execution.markets import MarketCatalog
from polybot.execution.orders import OrderStore
from polybot.execution.portfolio import Ledger, realized_since
from polybot.execution.settlement import POSITION_SETTLED
from polybot.execution.tracking import Tracker
from polybot.localvenue.server.harness import VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.localvenue.wallet import load_wallet
from polybot.model.fees import NO_FEES
from polybot.risk import RiskLimits
from polybot.storage.models import MarketResolution, Order, Position, Settlement, Trade
from polybot.venues.polymarket.clob import ClobClient

ACCOUNT = "0xme"
MARKET = "0xmarket"
YES, NO = "yes-token", "no-token"


# ---- the ledger, tracker and settler on a real SQLite file (``sessions``: tests/conftest.py) -----


class Harness:
    """A tracker (with its ledger and settler) as the executor builds it, events kept in a list."""

    def __init__(
        self, sessions: sessionmaker[Session], market: str = MARKET, account: str = ACCOUNT
    ) -> None:
        self.sessions = sessions
        self.market = market
        self.events: list[Message] = []
        self.counts: Counter[str] = Counter()
        self.store = OrderStore(sessions, account=account, venue="local")
        self.ledger = Ledger(sessions, account=account)
        self.tracker = Tracker(self.store, self.ledger, self.events.append, self.counted)

    def counted(self, name: str) -> None:
        self.counts[name] += 1

    def order(self, coid: str, token: str, side: str, price: str, size: str, strategy: str) -> Order:
        plan = OrderPlan(
            signal_id=coid, client_order_id=coid, strategy=strategy, market_id=self.market,
            token_id=token, side=side, price=Decimal(price), size=Decimal(size),  # type: ignore[arg-type]
            order_type="GTC", post_only=False, expiration=0, outcome_index=0, event_id="",
            neg_risk=False, tick_size=Decimal("0.01"), fee_schedule=NO_FEES,
        )
        fields = {"signal_id": coid, "strategy": strategy, "market_id": self.market,
                  "token_id": token,
                  "action": "BUY_YES", "price_exact": Decimal(price), "size_exact": Decimal(size)}
        frame = codec.encode(Signal(strategy=strategy, market_id=self.market, action="BUY_YES",
                                    token_id=token, price=float(price), size=float(size),
                                    signal_id=coid))
        order = self.store.journal_intent(fields, frame, plan, venue_order_id=f"v-{coid}",
                                          created=wall_ms())
        self.tracker.placed(order, "LIVE")
        return order

    def fill(self, order: Order, fill_id: str, price: str, size: str, fee: str = "0",
             status: str = "MATCHED", when: datetime | None = None) -> None:
        stamp = when or datetime.now(UTC)
        self.tracker.on_fill(Fill(
            market_id=self.market, token_id=order.token_id, fill_id=fill_id,
            order_id=order.venue_order_id or "", client_order_id=order.client_order_id,
            strategy=order.strategy, side=order.side,  # type: ignore[arg-type]
            price=Decimal(price), size=Decimal(size), fee=Decimal(fee), liquidity="TAKER",
            status=status, timestamp=int(stamp.timestamp() * 1000),
        ))

    def resolve(self, winner: str, timestamp: int = 1_790_000_000_000) -> None:
        self.tracker.settler.on_message(MarketResolved(
            market_id=self.market, winning_token_id=winner,
            winning_outcome="Yes" if winner == YES else "No", timestamp=timestamp,
        ))

    def settled_events(self) -> list[Event]:
        return [e for e in self.events
                if isinstance(e, Event) and e.event_type == POSITION_SETTLED]

    def rows(self, model: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.scalars(select(model).order_by(model.id)))


def no_mark(token_id: str) -> Decimal | None:
    return None


def describe(market_id: str, token_id: str) -> tuple[str, int]:
    return "", 0


def test_resolution_settles_each_held_position_at_1_or_0_with_exact_pnl(sessions) -> None:
    h = Harness(sessions)
    bought_yes = h.order("o-yes", YES, "BUY", "0.37", "100", "alpha")
    h.fill(bought_yes, "t1", "0.37", "60", fee="0.111")
    h.fill(bought_yes, "t2", "0.41", "40", fee="0.0533")
    bought_no = h.order("o-no", NO, "BUY", "0.55", "30", "beta")
    h.fill(bought_no, "t3", "0.55", "30", fee="0.0825")
    before = h.ledger.risk_view(Decimal(1000), no_mark, describe, h.store.open_orders())
    assert set(before.positions) == {YES, NO}
    avg_yes = (Decimal("0.37") * 60 + Decimal("0.41") * 40) / 100  # 0.386

    h.resolve(YES)

    events = {e.data["token_id"]: e.data for e in h.settled_events()}
    assert set(events) == {YES, NO}
    assert events[YES]["won"] is True
    assert events[NO]["won"] is False
    assert Decimal(events[YES]["realized_pnl"]) == 100 * (1 - avg_yes) == Decimal("61.4")
    assert Decimal(events[YES]["payout"]) == Decimal(100)
    assert Decimal(events[NO]["realized_pnl"]) == 30 * (0 - Decimal("0.55"))
    assert Decimal(events[NO]["payout"]) == 0
    assert events[YES]["source"] == "prices.pub"
    assert events[YES]["resolved_at"] == 1_790_000_000_000
    positions = {p.token_id: p for p in h.rows(Position)}
    assert positions[YES].size == positions[NO].size == 0
    assert positions[YES].realized_pnl == Decimal("61.4") - Decimal("0.1643")
    assert positions[NO].realized_pnl == Decimal("-16.5") - Decimal("0.0825")
    settlements = h.rows(Settlement)
    assert [(s.token_id, s.shares, s.avg_price, s.payout_price) for s in settlements] == [
        (YES, Decimal(100), avg_yes, Decimal(1)),
        (NO, Decimal(30), Decimal("0.55"), Decimal(0)),
    ]
    # The exposure is gone from the risk gate's view, the PnL is realized (fees included).
    after = h.ledger.risk_view(Decimal(1000), no_mark, describe, h.store.open_orders())
    assert after.positions == {}
    pnl = h.ledger.pnl(no_mark)
    expected = Decimal("61.4") - Decimal("16.5") - Decimal("0.1643") - Decimal("0.0825")
    assert (pnl.realized, pnl.unrealized, pnl.daily) == (expected, 0, expected)
    assert h.counts["positions_settled"] == 2
    # Settling does not touch the free balance: the venue pays only when the shares are redeemed.
    assert h.tracker.balance == -(Decimal("0.37") * 60 + Decimal("0.41") * 40 + Decimal("16.5")
                                  + Decimal("0.111") + Decimal("0.0533") + Decimal("0.0825"))


def test_the_same_resolution_twice_and_after_a_restart_settles_once(sessions) -> None:
    h = Harness(sessions)
    order = h.order("o-1", NO, "BUY", "0.20", "50", "alpha")
    h.fill(order, "t1", "0.20", "50", fee="0.01")
    h.resolve(NO)
    h.resolve(NO)  # the scanner's message again
    h.tracker.settler.resolve(MARKET, NO, source="venue")  # and the venue says so too
    assert len(h.settled_events()) == 1
    assert len(h.rows(Settlement)) == 1
    realized = h.ledger.pnl(no_mark).realized
    assert realized == 50 * (1 - Decimal("0.20")) - Decimal("0.01")

    restarted = Harness(sessions)  # a new process on the same file
    assert restarted.ledger.resolution(MARKET) == NO
    assert restarted.ledger.positions() == []
    assert restarted.ledger.pnl(no_mark).realized == realized
    assert restarted.ledger.pnl(no_mark).daily == realized  # settled today: today's PnL
    restarted.resolve(NO)
    assert restarted.settled_events() == []
    assert len(restarted.rows(Settlement)) == 1
    assert len(restarted.rows(MarketResolution)) == 1
    with sessions() as session:
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        assert realized_since(session, ACCOUNT, day) == realized


def test_a_conflicting_second_resolution_is_ignored(sessions) -> None:
    h = Harness(sessions)
    order = h.order("o-1", YES, "BUY", "0.60", "10", "alpha")
    h.fill(order, "t1", "0.60", "10")
    h.resolve(NO)
    h.resolve(YES)  # a different winner later: the first stands
    assert [e.data["won"] for e in h.settled_events()] == [False]
    assert h.ledger.resolution(MARKET) == NO
    assert h.ledger.pnl(no_mark).realized == Decimal("-6.00")


def test_a_fill_booked_after_the_resolution_is_settled_at_once(sessions) -> None:
    h = Harness(sessions)
    order = h.order("o-1", YES, "BUY", "0.30", "20", "alpha")
    h.fill(order, "t1", "0.30", "10")
    h.resolve(YES)
    # A fill matched before the resolution, reported after it (late channel, reconciliation).
    h.fill(order, "t2", "0.50", "10", when=datetime.now(UTC) - timedelta(minutes=1))
    settled = [e.data for e in h.settled_events()]
    assert [(d["shares"], d["source"]) for d in settled] == [("10", "prices.pub"),
                                                             ("10", "late_fill")]
    assert h.ledger.positions() == []
    assert h.ledger.pnl(no_mark).realized == 10 * Decimal("0.70") + 10 * Decimal("0.50")
    assert [s.after_trade_id for s in h.rows(Settlement)] == [t.id for t in h.rows(Trade)]


async def test_a_market_the_venue_cancelled_as_resolved_is_settled_by_the_next_sweep(
    sessions,
) -> None:
    with VenueServer(build_venue(quick_config())) as server:
        http = httpx.AsyncClient(base_url=server.url, timeout=10.0)
        market = (await http.get("/markets")).json()["data"][0]
        cid = market["condition_id"]
        yes, no = (t["token_id"] for t in market["tokens"])
        h = Harness(sessions, market=cid)
        order = h.order("o-1", no, "BUY", "0.35", "40", "alpha")
        h.fill(order, "t1", "0.35", "20", fee="0.07")
        clob = ClobClient(server.url, chain_id=137)
        catalog = MarketCatalog(clob, None)  # the executor's cache: a minute
        try:
            assert await h.tracker.settler.sweep(catalog, everything=True) == []  # not resolved
            resolved = await http.post(
                "/_polybot/admin/resolve", json={"condition_id": cid, "outcome": "Yes"}
            )
            assert resolved.json()["winning_asset_id"] == yes
            # How the user channel reports the resting rest: CANCELED, reason MARKET_RESOLVED.
            h.tracker.on_order_update(OrderUpdate(
                market_id=cid, token_id=no, order_id=order.venue_order_id or "",
                client_order_id="o-1", strategy="alpha", side="BUY", price=Decimal("0.35"),
                original_size=Decimal(40), size_matched=Decimal(20), status="CANCELED",
                timestamp=wall_ms(), reason="MARKET_RESOLVED",
            ))
            settled = await h.tracker.settler.sweep(catalog)  # not a full sweep: only the hint
        finally:
            await clob.aclose()
            await http.aclose()
    assert [(s.token_id, s.winning_token_id, s.source) for s in settled] == [(no, yes, "venue")]
    assert settled[0].realized_pnl == -20 * Decimal("0.35")
    assert h.ledger.positions() == []
    assert [e.data["token_id"] for e in h.settled_events()] == [no]
    assert h.store.order(client_order_id="o-1").status == "CANCELED"  # type: ignore[union-attr]


# ---- the real executor and the local venue -------------------------------------------------------
def wallet_balance(venue: VenueProcess, data_dir: Path, token_id: str | None = None) -> Decimal:
    """Return the wallet's collateral (or one token's) balance as the venue reports it."""
    from polybot.venues.polymarket.auth import ApiCreds
    from polybot.venues.polymarket.clob import ClobClient

    wallet = load_wallet(data_dir)
    assert wallet is not None
    assert wallet.api_key

    async def ask() -> Decimal:
        client = ClobClient(venue.url, chain_id=137)
        client.signer, client.address = wallet.signer, wallet.address
        client.creds = ApiCreds(api_key=wallet.api_key, secret=wallet.api_secret,
                                passphrase=wallet.api_passphrase)
        try:
            kind = "CONDITIONAL" if token_id else "COLLATERAL"
            raw = await client.get_balance_allowance(kind, token_id=token_id)  # type: ignore[arg-type]
            return Decimal(raw.balance).scaleb(-6)
        finally:
            await client.aclose()

    return asyncio.run(ask())


def buy_at_ask(stack: Stack, market: dict[str, Any], action: str, size: int) -> Trade:
    """Take ``size`` shares at the best ask; return the booked trade row."""
    token = market["tokens"][0 if action == "BUY_YES" else 1]["token_id"]
    ask = best(stack.venue.book(token), "asks")
    sig = signal(market, action=action, price=float(ask), size=size)
    stack.send(sig)
    filled = stack.fate(sig.signal_id, "order_filled", "signal_rejected", "order_failed")
    assert filled.event_type == "order_filled", filled.data
    assert filled.data["fate"] == "filled"
    with stack.sessions() as session:
        return session.scalars(select(Trade).where(Trade.client_order_id == sig.signal_id)).one()


def position(stack: Stack, token_id: str) -> Position:
    with stack.sessions() as session:
        return session.scalars(
            select(Position).where(Position.token_id == token_id, Position.strategy == "e2e")
        ).one()


def settled(stack: Stack, token_id: str, timeout: float = 30.0) -> Event:
    return stack.wait_event(
        lambda e: e.event_type == POSITION_SETTLED and e.data["token_id"] == token_id, timeout
    )


def publish_resolution(stack: Stack, market: dict[str, Any], index: int) -> None:
    token = market["tokens"][index]
    stack.prices.publish(MarketResolved(
        market_id=market["condition_id"], winning_token_id=token["token_id"],
        winning_outcome=token["outcome"], timestamp=wall_ms(),
    ))


def index_of(stack: Stack, event: Event) -> int:
    return next(i for i, seen in enumerate(stack.seen) if seen is event)


def restart(stack: Stack) -> Event:
    """Stop and start the executor; return a ``balance`` event of the new process.

    Events published during the start (its reconciliation and resolution sweep) may go out
    before our SUB has reconnected to the new PUB, so restarts are judged by the database; the
    periodic ``balance`` event (after each reconciliation) always arrives.
    """
    assert stack.terminate() == 0
    seen = len(stack.seen)
    stack.start()
    return stack.wait_event(
        lambda e: e.event_type == "balance" and index_of(stack, e) >= seen, 45.0
    )


def settlements_of(stack: Stack, token_id: str) -> list[Settlement]:
    with stack.sessions() as session:
        return list(session.scalars(select(Settlement).where(Settlement.token_id == token_id)))


def test_resolution_on_the_price_bus_settles_frees_exposure_once_and_survives_restart(
    stack: Stack,
) -> None:
    markets = stack.venue.tradable_markets(neg_risk=False, tick="0.01")
    market, other, third = markets[0], markets[1], markets[2]
    yes = market["tokens"][0]["token_id"]
    trade = buy_at_ask(stack, market, "BUY_YES", 10)
    lost_trade = buy_at_ask(stack, third, "BUY_NO", 5)
    cost = trade.price * trade.size
    held = cost + lost_trade.price * lost_trade.size
    collateral = wallet_balance(stack.venue, stack.data_dir)

    # A resting BUY in another market that fits the total exposure limit only once the first
    # position is gone: refused now.
    low = below_bid(stack, other["tokens"][0]["token_id"])
    limit = held + low * 10 - cost / 2
    limits = {**RiskLimits().model_dump(mode="json"), "max_total_exposure": str(limit)}
    assert command(stack, "set_risk_limits", limits=limits).event_type == "command_applied"
    refused = signal(other, price=float(low), size=10)
    stack.send(refused)
    fate = stack.fate(refused.signal_id, "signal_rejected", "signal_accepted")
    assert (fate.event_type, fate.data.get("rule")) == ("signal_rejected", "max_total_exposure")

    stack.venue.admin("resolve", {"condition_id": market["condition_id"], "outcome": 0})
    publish_resolution(stack, market, 0)  # what the scanner publishes on market_resolved

    event = settled(stack, yes)
    assert event.data["won"] is True
    assert event.data["source"] == "prices.pub"
    assert Decimal(event.data["shares"]) == trade.size
    assert Decimal(event.data["realized_pnl"]) == trade.size * (1 - trade.price)
    assert Decimal(event.data["payout"]) == trade.size
    settled_position = position(stack, yes)
    assert settled_position.size == 0
    assert settled_position.realized_pnl == trade.size * (1 - trade.price) - trade.fee
    # The venue keeps the shares until they are redeemed: no collateral moved.
    assert wallet_balance(stack.venue, stack.data_dir) == collateral
    assert wallet_balance(stack.venue, stack.data_dir, yes) == trade.size

    # The same resolution again, then another market's: once the second is settled, the repeat
    # (published before it on the same socket) has been handled, and it settled nothing.
    publish_resolution(stack, market, 0)
    stack.venue.admin("resolve", {"condition_id": third["condition_id"], "outcome": 0})
    publish_resolution(stack, third, 0)
    lost = settled(stack, lost_trade.token_id)
    assert lost.data["won"] is False
    assert Decimal(lost.data["realized_pnl"]) == -lost_trade.size * lost_trade.price
    settled_tokens = [e.data["token_id"] for e in stack.seen if e.event_type == POSITION_SETTLED]
    assert settled_tokens.count(yes) == 1
    assert len(settlements_of(stack, yes)) == 1

    # The exposure is free: the same BUY passes now.
    accepted = signal(other, price=float(low), size=10)
    stack.send(accepted)
    placed = stack.fate(accepted.signal_id, "order_placed", "signal_rejected")
    assert placed.event_type == "order_placed", placed.data
    assert command(stack, "cancel_all", market_id=other["condition_id"]).event_type == (
        "command_applied"
    )
    defaults = RiskLimits().model_dump(mode="json")
    assert command(stack, "set_risk_limits", limits=defaults).event_type == "command_applied"

    # Restart: nothing settles again, the books are as they were, the balance is the venue's.
    balance = restart(stack)
    assert len(settlements_of(stack, yes)) == 1
    assert len(settlements_of(stack, lost_trade.token_id)) == 1
    assert position(stack, yes).realized_pnl == settled_position.realized_pnl
    assert Decimal(balance.data["balance"]) == wallet_balance(stack.venue, stack.data_dir)
    with stack.sessions() as session:
        realized = sum((p.realized_pnl for p in session.scalars(select(Position))), Decimal(0))
    assert Decimal(balance.data["realized_pnl"]) == realized


def test_a_resolution_missed_while_down_is_found_at_the_venue_on_start(stack: Stack) -> None:
    market = stack.venue.tradable_markets(neg_risk=False, tick="0.01")[5]
    no = market["tokens"][1]["token_id"]
    trade = buy_at_ask(stack, market, "BUY_NO", 10)
    assert stack.terminate() == 0
    stack.venue.admin("resolve", {"condition_id": market["condition_id"], "outcome": "Yes"})

    stack.start()  # nobody publishes the resolution: the executor must find it at the venue

    found = wait_until(lambda: settlements_of(stack, no), 30.0, "the settlement of the NO shares")
    assert len(found) == 1
    assert (found[0].source, found[0].payout_price, found[0].shares) == ("venue", 0, trade.size)
    assert found[0].realized_pnl == -trade.size * trade.price
    assert found[0].winning_token_id == market["tokens"][0]["token_id"]
    assert position(stack, no).size == 0
    with stack.sessions() as session:
        resolution = session.scalars(
            select(MarketResolution).where(MarketResolution.market_id == market["condition_id"])
        ).one()
    assert (resolution.source, resolution.winning_outcome) == ("venue", "Yes")
    balance = restart(stack)  # and once more: still one settlement
    assert len(settlements_of(stack, no)) == 1
    assert Decimal(balance.data["balance"]) == wallet_balance(stack.venue, stack.data_dir)
