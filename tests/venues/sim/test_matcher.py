"""The shared matcher: order types, match kinds, priority, fees, queue position, invariants."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from polybot.model.fees import FeeSchedule, maker_rebate, taker_fee
from polybot.venues.sim.book import Book, BookSide, RestingOrder, Side, Token
from polybot.venues.sim.matcher import (
    Asset,
    MatchKind,
    OrderIntent,
    Reject,
    TimeInForce,
    match,
    settlement,
    trade_at_level,
)

U = 1_000_000
FREE = FeeSchedule()
CRYPTO = FeeSchedule(rate=Decimal("0.07"), rebate_rate=Decimal("0.2"))


def intent(oid: str, token: Token, side: Side, price: str, shares: int, tif: TimeInForce = TimeInForce.GTC,
           owner: str = "", post_only: bool = False) -> OrderIntent:
    return OrderIntent(order_id=oid, owner=owner or oid, token=token, side=side,
                       price=Decimal(price), size=shares * U, tif=tif, post_only=post_only)


def test_buy_yes_vs_sell_yes_is_a_transfer_at_maker_price() -> None:
    book = Book()
    match(book, intent("m", Token.YES, Side.SELL, "0.40", 10), FREE)
    result = match(book, intent("t", Token.YES, Side.BUY, "0.45", 4), FREE)
    [fill] = result.fills
    assert (fill.kind, fill.yes_price, fill.size, fill.maker_remaining) == (
        MatchKind.TRANSFER, Decimal("0.40"), 4 * U, 6 * U)
    assert book.depth(BookSide.ASK) == [(Decimal("0.40"), 6 * U)]
    s = settlement(fill, "op")
    assert ("t", Asset.COLLATERAL, -1_600_000) in [(t.owner, t.asset, t.delta) for t in s.transfers]
    assert s.locked_delta == 0


def test_buy_yes_vs_buy_no_mints_and_sell_vs_sell_merges() -> None:
    book = Book()
    match(book, intent("no_buyer", Token.NO, Side.BUY, "0.35", 10), FREE)   # ask at 0.65 YES
    assert book.best_ask() == Decimal("0.65")
    result = match(book, intent("yes_buyer", Token.YES, Side.BUY, "0.70", 10), FREE)
    [fill] = result.fills
    assert fill.kind is MatchKind.MINT
    assert fill.taker_price == Decimal("0.65")
    assert fill.maker_price == Decimal("0.35")
    s = settlement(fill, "op")
    assert s.locked_delta == 10 * U
    assert sum(t.delta for t in s.transfers if t.asset is Asset.COLLATERAL) == -10 * U

    match(book, intent("no_seller", Token.NO, Side.SELL, "0.30", 10), FREE)  # bid at 0.70 YES
    merged = match(book, intent("yes_seller", Token.YES, Side.SELL, "0.60", 10, TimeInForce.FAK), FREE)
    [fill] = merged.fills
    assert fill.kind is MatchKind.MERGE
    assert fill.yes_price == Decimal("0.70")
    assert settlement(fill, "op").locked_delta == -10 * U


def test_price_time_priority_and_depth_walk() -> None:
    book = Book()
    match(book, intent("a", Token.YES, Side.SELL, "0.50", 5), FREE)
    match(book, intent("b", Token.NO, Side.BUY, "0.52", 5), FREE)    # YES ask 0.48: better
    match(book, intent("c", Token.YES, Side.SELL, "0.50", 5), FREE)
    result = match(book, intent("t", Token.YES, Side.BUY, "0.50", 12, TimeInForce.FAK), FREE)
    assert [(f.maker_order_id, f.size) for f in result.fills] == [("b", 5 * U), ("a", 5 * U), ("c", 2 * U)]
    assert result.unfilled == 0
    assert book.depth(BookSide.ASK) == [(Decimal("0.50"), 3 * U)]


def test_fok_checks_before_mutating_and_fak_partial() -> None:
    book = Book()
    match(book, intent("a", Token.YES, Side.SELL, "0.50", 5), FREE)
    killed = match(book, intent("t", Token.YES, Side.BUY, "0.60", 6, TimeInForce.FOK), FREE)
    assert killed.reject is Reject.FOK_NOT_FILLED
    assert not killed.fills
    assert book.depth(BookSide.ASK) == [(Decimal("0.50"), 5 * U)]
    partial = match(book, intent("f", Token.YES, Side.BUY, "0.60", 6, TimeInForce.FAK), FREE)
    assert partial.filled == 5 * U
    assert partial.unfilled == U
    assert partial.rested is None
    nomatch = match(book, intent("g", Token.YES, Side.BUY, "0.60", 6, TimeInForce.FAK), FREE)
    assert nomatch.reject is Reject.FAK_NO_MATCH


def test_post_only_rejected_when_crossing_and_rests_otherwise() -> None:
    book = Book()
    match(book, intent("a", Token.YES, Side.SELL, "0.50", 5), FREE)
    crossing = match(book, intent("p", Token.NO, Side.SELL, "0.50", 5, post_only=True), FREE)
    assert crossing.reject is Reject.POST_ONLY_CROSSES
    assert len(book) == 1
    ok = match(book, intent("q", Token.YES, Side.BUY, "0.49", 5, post_only=True), FREE)
    assert ok.rested is not None
    assert book.best_bid() == Decimal("0.49")


def test_gtc_remainder_rests_and_level_changes_mirror_to_no() -> None:
    book = Book()
    match(book, intent("a", Token.YES, Side.SELL, "0.50", 5), FREE)
    result = match(book, intent("t", Token.YES, Side.BUY, "0.55", 8), FREE)
    assert result.rested is not None
    assert result.rested.size == 3 * U
    removed, added = result.changes
    assert (removed.book_side, removed.size) == (BookSide.ASK, 0)
    assert added.for_token(Token.YES) == (Side.BUY, Decimal("0.55"), 3 * U)
    assert added.for_token(Token.NO) == (Side.SELL, Decimal("0.45"), 3 * U)


def test_fees_on_taker_and_rebate_to_maker() -> None:
    book = Book()
    match(book, intent("m", Token.YES, Side.SELL, "0.66", 100), CRYPTO)
    [fill] = match(book, intent("t", Token.YES, Side.BUY, "0.66", 100), CRYPTO).fills
    expected = taker_fee(Decimal(100), Decimal("0.66"), CRYPTO)
    assert fill.fee == int(expected * U)
    assert fill.rebate == int(maker_rebate(expected, CRYPTO) * U)
    deltas = defaultdict(int)
    for t in settlement(fill, "op").transfers:
        deltas[(t.owner, t.asset)] += t.delta
    assert deltas[("op", Asset.COLLATERAL)] == fill.fee - fill.rebate
    assert deltas[("t", Asset.COLLATERAL)] == -66 * U - fill.fee
    assert deltas[("m", Asset.COLLATERAL)] == 66 * U + fill.rebate


def test_external_liquidity_queue_position() -> None:
    book = Book()
    book.add(RestingOrder(order_id="ext1", owner="", token=Token.YES, side=Side.BUY,
                          price=Decimal("0.40"), size=100 * U, external=True))
    match(book, intent("ours", Token.YES, Side.BUY, "0.40", 10), FREE)
    book.add(RestingOrder(order_id="ext2", owner="", token=Token.YES, side=Side.BUY,
                          price=Decimal("0.40"), size=50 * U, external=True))
    assert book.queue_ahead("ours") == 100 * U
    book.reduce_external(BookSide.BID, Decimal("0.40"), 60 * U)   # from the back: ext2 then ext1
    assert book.queue_ahead("ours") == 90 * U
    book.reduce_external(BookSide.BID, Decimal("0.40"), 30 * U, from_back=False)
    assert book.queue_ahead("ours") == 60 * U
    result = trade_at_level(book, BookSide.BID, Decimal("0.40"), 65 * U, CRYPTO)
    assert [(f.maker_order_id, f.size) for f in result.fills] == [("ext1", 60 * U), ("ours", 5 * U)]
    assert all(f.fee == 0 for f in result.fills)
    assert book.get("ours") is not None
    assert book.get("ours").size == 5 * U


# ---- property-based invariants -------------------------------------------------------------

order_st = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from([Token.YES, Token.NO]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=99),               # price in cents
    st.integers(min_value=1, max_value=40),               # shares
    st.sampled_from(list(TimeInForce)),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(order_st, min_size=1, max_size=40))
def test_invariants_conservation_no_cross_priority_fees(orders: list[tuple]) -> None:  # type: ignore[type-arg]
    book = Book()
    collateral: defaultdict[str, int] = defaultdict(int)
    shares: defaultdict[tuple[str, Asset], int] = defaultdict(int)
    locked = 0
    for i, (owner, token, side, cents, qty, tif, post_only) in enumerate(orders):
        price = Decimal(cents) / 100
        order = intent(f"o{i}", token, side, str(price), qty, tif, owner=owner,
                       post_only=post_only and tif.rests)
        before = {o.order_id: (o.yes_price, o.seq) for o in book.orders()}
        result = match(book, order, CRYPTO)
        # makers were consumed best price first, FIFO within a price
        sign = 1 if order.book_side is BookSide.BID else -1
        keys = [(sign * f.yes_price, before[f.maker_order_id][1]) for f in result.fills]
        assert keys == sorted(keys)
        for fill in result.fills:
            assert fill.fee == int(taker_fee(Decimal(fill.size) / U, fill.taker_price, CRYPTO) * U)
            # never worse than the taker's limit
            if order.book_side is BookSide.BID:
                assert fill.yes_price <= order.yes_price
            else:
                assert fill.yes_price >= order.yes_price
            s = settlement(fill, "op")
            for t in s.transfers:
                if t.asset is Asset.COLLATERAL:
                    collateral[t.owner] += t.delta
                else:
                    shares[(t.owner, t.asset)] += t.delta
            locked += s.locked_delta
        # conservation: pUSD held + pUSD locked in pairs is constant; YES and NO supply = locked
        assert sum(collateral.values()) + locked == 0
        yes = sum(v for (_, a), v in shares.items() if a is Asset.YES)
        no = sum(v for (_, a), v in shares.items() if a is Asset.NO)
        assert yes == no == locked
        assert collateral["op"] >= 0
        # no crossed book at rest
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        if result.reject is not None:
            assert {o.order_id for o in book.orders()} == set(before)
