"""SimVenue on the shared matcher: depth walking, fees, queue position, latency, settlement."""

from __future__ import annotations

from decimal import Decimal

import pytest

from polybot.bus.messages import BookDelta, Fill, LevelChange, Message, OrderUpdate, Trade
from polybot.core.clock import ManualClock
from polybot.model.fees import FeeSchedule, maker_rebate, taker_fee
from polybot.testing import make_book, make_market
from polybot.venues.paper import PaperVenue
from polybot.venues.sim.venue import OrderRequest, SimVenue

FEES = FeeSchedule(rate=Decimal("0.04"), rebate_rate=Decimal("0.25"))
Levels = list[tuple[float, float]]


class Harness:
    """A SimVenue over a mutable recorded book for market ``m`` (YES token ``m-yes``)."""

    def __init__(
        self, bids: Levels, asks: Levels, *, latency_ms: int = 0, fees: FeeSchedule = FEES
    ) -> None:
        self.market = make_market("m", fees=fees)
        self.levels: dict[str, tuple[Levels, Levels]] = {"m-yes": (bids, asks)}
        self.events: list[Message] = []
        self.venue = SimVenue({"m": self.market}, self.levels.get, latency_ms=latency_ms)
        self.venue.start(self.events.append)
        self._n = 0

    def order(
        self,
        side: str,
        price: str,
        size: str,
        order_type: str = "GTC",
        token: str = "m-yes",
        post_only: bool = False,
    ) -> str:
        self._n += 1
        coid = f"o{self._n}"
        self.venue.place(
            OrderRequest(
                client_order_id=coid,
                strategy="s",
                market_id="m",
                token_id=token,
                side=side,
                price=Decimal(price),
                size=Decimal(size),  # type: ignore[arg-type]
                order_type=order_type,
                post_only=post_only,
            )
        )  # type: ignore[arg-type]
        return coid

    def fills(self) -> list[Fill]:
        return [e for e in self.events if isinstance(e, Fill)]

    def statuses(self) -> list[tuple[str, str]]:
        return [(e.status, e.reason) for e in self.events if isinstance(e, OrderUpdate)]


def test_taker_walks_the_depth_and_pays_the_fee() -> None:
    h = Harness([(0.40, 100)], [(0.50, 30), (0.52, 100)])
    h.order("BUY", "0.52", "50", "FAK")
    assert [(f.price, f.size, f.liquidity) for f in h.fills()] == [
        (Decimal("0.50"), Decimal(30), "TAKER"),
        (Decimal("0.52"), Decimal(20), "TAKER"),
    ]
    assert h.fills()[0].fee == taker_fee(Decimal(30), Decimal("0.50"), FEES)
    assert h.statuses()[-1][0] == "MATCHED"
    assert h.venue.shares("s", "m-yes") == Decimal(50)
    expected_cash = 1000 - Decimal("25.4") - sum(f.fee for f in h.fills())
    assert h.venue.cash("s") == expected_cash


def test_buying_no_mints_against_the_yes_bid() -> None:
    h = Harness([(0.40, 100)], [(0.60, 100)])
    h.order("BUY", "0.60", "10", "FOK", token="m-no")
    [fill] = h.fills()
    assert (fill.token_id, fill.price, fill.size) == ("m-no", Decimal("0.60"), Decimal(10))


def test_maker_waits_behind_the_queue_and_trades_advance_it() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("BUY", "0.40", "20")
    assert h.statuses() == [("LIVE", "")]
    # A print of 60 at our level consumes external size ahead of us, then the level shrinks.
    h.venue.on_trade("m-yes", False, 0.40, 60, ts_ms=1)
    h.venue.on_level("m-yes", True, 0.40, 40, ts_ms=1)
    assert h.fills() == []
    h.venue.on_trade("m-yes", False, 0.40, 50, ts_ms=2)
    [fill] = h.fills()
    assert (fill.size, fill.liquidity) == (Decimal(10), "MAKER")
    assert fill.fee == -maker_rebate(taker_fee(Decimal(10), Decimal("0.40"), FEES), FEES)


def test_recorded_print_arriving_after_the_level_shrank_still_counts_from_the_front() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("BUY", "0.40", "20")
    h.venue.on_level("m-yes", True, 0.40, 0, ts_ms=5)  # a sweep: the burst shows the level gone
    h.venue.on_trade("m-yes", False, 0.40, 110, ts_ms=5)  # the print: 100 ahead of us, then 10
    assert sum(f.size for f in h.fills()) == Decimal(10)


def test_cancels_are_taken_from_the_back_and_do_not_move_us_up() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("BUY", "0.40", "20")
    h.venue.on_level("m-yes", True, 0.40, 150, ts_ms=1)  # 50 joins behind us
    h.venue.on_level("m-yes", True, 0.40, 60, ts_ms=2)  # 90 cancelled: 50 behind, 40 ahead
    h.venue.on_level("m-yes", True, 0.40, 60, ts_ms=3)  # new timestamp settles the cancel
    h.venue.on_trade("m-yes", False, 0.40, 59, ts_ms=4)
    assert h.fills() == []  # 60 were ahead of us: 59 is not enough


def test_trade_through_fills_a_better_priced_order() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("BUY", "0.45", "20")
    h.venue.on_trade("m-yes", False, 0.40, 30, ts_ms=1)
    assert [(f.price, f.size) for f in h.fills()] == [(Decimal("0.45"), Decimal(20))]


def test_new_recorded_liquidity_that_crosses_our_bid_trades_with_us_as_maker() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("BUY", "0.45", "20")
    h.venue.on_level("m-yes", False, 0.44, 30, ts_ms=1)
    assert [(f.price, f.liquidity) for f in h.fills()] == [(Decimal("0.45"), "MAKER")]


@pytest.mark.parametrize(
    ("price", "size", "order_type", "reason"),
    [
        ("0.405", "10", "GTC", "not on the 0.01 grid"),
        ("0.99", "10", "GTC", "not enough balance"),
        ("0.40", "4", "GTC", "below the market's minimum"),
        ("0.50", "1.5", "FAK", "at least $1 notional"),
        ("0.40", "10.001", "GTC", "at most 2 decimals"),
    ],
)
def test_validation_mirrors_the_venue(price: str, size: str, order_type: str, reason: str) -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    if reason == "not enough balance":
        size = "2000"
    h.order("BUY", price, size, order_type)
    status, why = h.statuses()[-1]
    assert status == "INVALID"
    assert reason in why


def test_selling_needs_shares_and_post_only_may_not_cross() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)])
    h.order("SELL", "0.40", "10", "FAK")
    assert h.statuses()[-1] == ("INVALID", "not enough shares")
    h.order("BUY", "0.50", "10", post_only=True)
    assert h.statuses()[-1] == ("CANCELED", "post_only_crosses")


def test_latency_delays_arrival_and_resolution_pays_winners() -> None:
    h = Harness([(0.40, 100)], [(0.50, 100)], latency_ms=200)
    h.order("BUY", "0.50", "10", "FAK")
    assert h.events == []
    assert h.venue.next_due_ns == 200_000_000
    h.venue.advance(199_000_000)
    assert h.events == []
    h.venue.advance(200_000_000)
    assert h.fills()[0].timestamp == 200
    h.venue.on_resolved("m", "m-yes")
    assert h.venue.shares("s", "m-yes") == 0
    assert h.venue.cash("s") == 1000 - Decimal(5) - h.fills()[0].fee + 10


def test_paper_venue_uses_live_books_and_the_same_matcher() -> None:
    clock = ManualClock(1_000_000_000)
    market = make_market("m")
    events: list[Message] = []
    paper = PaperVenue({"m": market}, clock=clock)
    paper.start(events.append)
    paper.on_message(make_book("m-yes", [(0.40, 100)], [(0.50, 30), (0.51, 50)], ts_ms=1000))
    paper.place(
        OrderRequest(
            client_order_id="p1",
            strategy="s",
            market_id="m",
            token_id="m-yes",
            side="BUY",
            price=Decimal("0.51"),
            size=Decimal(40),
            order_type="FAK",
        )
    )
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.price, f.size) for f in fills] == [
        (Decimal("0.5"), Decimal(30)),
        (Decimal("0.51"), Decimal(10)),
    ]
    paper.place(
        OrderRequest(
            client_order_id="p2",
            strategy="s",
            market_id="m",
            token_id="m-yes",
            side="BUY",
            price=Decimal("0.40"),
            size=Decimal(10),
        )
    )
    paper.on_message(
        BookDelta(
            market_id="m",
            token_id="m-yes",
            timestamp=1001,
            changes=[LevelChange(side="BUY", price=0.40, size=100)],
        )
    )
    paper.on_message(
        Trade(market_id="m", token_id="m-yes", price=0.40, size=105, side="SELL", timestamp=1002)
    )
    assert [e.client_order_id for e in events if isinstance(e, Fill)][
        -1
    ] == "p2"  # 100 ahead, 5 for us
