"""The state service's ``pnl`` and ``risk`` answers agree with the executor's ledger.

The executor's ledger (the real one, on a real migrated SQLite file) books fills from yesterday
and today, settles a resolution and reverses a FAILED fill; the state service's queries then
read the same file. Today's realized PnL is fills + settlements + reversals, as the ledger's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Fill
from polybot.execution.portfolio import Ledger
from polybot.risk.limits import RiskLimits
from polybot.statecmd import queries
from polybot.storage.models import Order

D = Decimal
ACCOUNT = "0xme"
MARKET = "0xmarket"
YES, NO = "yes-token", "no-token"



class Book:
    """The executor's ledger, with orders written as the order store journals them."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.ledger = Ledger(sessions, account=ACCOUNT)

    def order(self, coid: str, token: str, side: str, price: str, size: str) -> Order:
        with self.sessions.begin() as session:
            order = Order(
                client_order_id=coid,
                venue_order_id=f"v-{coid}",
                strategy="alpha",
                account=ACCOUNT,
                market_id=MARKET,
                token_id=token,
                side=side,
                price=D(price),
                original_size=D(size),
                size_matched=D(0),
                fees_paid=D(0),
                status="LIVE",
            )
            session.add(order)
        return order

    def fill(
        self,
        order: Order,
        fill_id: str,
        price: str,
        size: str,
        fee: str = "0",
        when: datetime | None = None,
        status: str = "MATCHED",
    ) -> None:
        stamp = when or datetime.now(UTC)
        self.ledger.book(
            Fill(
                market_id=MARKET,
                token_id=order.token_id,
                fill_id=fill_id,
                order_id=order.venue_order_id or "",
                client_order_id=order.client_order_id,
                strategy=order.strategy,
                side=order.side,  # type: ignore[arg-type]
                price=D(price),
                size=D(size),
                fee=D(fee),
                liquidity="TAKER",
                status=status,
                timestamp=int(stamp.timestamp() * 1000),
            ),
            order,
        )


def no_mark(token_id: str) -> Decimal | None:
    return None


def test_daily_realized_counts_settlements_and_reversals_like_the_executor(sessions) -> None:
    book = Book(sessions)
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        hours=6
    )
    yes = book.order("o-yes", YES, "BUY", "0.40", "10")
    book.fill(yes, "t1", "0.40", "10", fee="0.04", when=yesterday)  # −0.04, yesterday
    sell_yes = book.order("o-sell-yes", YES, "SELL", "0.55", "6")
    book.fill(sell_yes, "t2", "0.55", "4", fee="0.01", when=yesterday)  # +0.59, yesterday
    book.fill(sell_yes, "t3", "0.60", "2", fee="0.01")  # +0.39
    no = book.order("o-no", NO, "BUY", "0.30", "5")
    book.fill(no, "t4", "0.30", "5", fee="0.02")  # −0.02
    sell_no = book.order("o-sell-no", NO, "SELL", "0.40", "2")
    book.fill(sell_no, "t5", "0.40", "2")  # +0.20 …
    book.fill(sell_no, "t5", "0.40", "2", status="FAILED")  # … reversed: −0.20
    book.ledger.settle(MARKET, YES, winning_outcome="Yes", source="venue")  # +2.40, −1.50
    today = D("0.39") - D("0.02") + D("0.20") - D("0.20") + D("2.40") - D("1.50")
    assert book.ledger.pnl(no_mark).daily == today == D("1.27")

    with sessions() as session:
        pnl = queries.pnl(session, {})
        risk = queries.risk(session, RiskLimits(), {})
    assert D(pnl["daily_realized"]) == today  # trades only would say 0.57
    assert pnl["daily_trades"] == 3  # today's fills: t3, t4, t5 (its row stays, FAILED)
    assert D(pnl["total"]["realized"]) == book.ledger.pnl(no_mark).realized
    assert D(risk["daily_pnl"]) == today
