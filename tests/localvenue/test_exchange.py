"""The exchange core: every rejection with its official text, matching, events, time, resolution."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from polybot.core.clock import ManualClock
from polybot.localvenue.accounts import AssetType
from polybot.localvenue.events import (
    BookSnapshot,
    MarketResolved,
    OrderEvent,
    PriceChange,
    TradeEvent,
    VenueEvent,
)
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.lifecycle import FailureMode, LifecycleConfig
from polybot.localvenue.markets import MarketSpec
from polybot.localvenue.orders import Msg, PostOrder, TradingMode
from polybot.model.fees import FeeSchedule
from polybot.venues.polymarket.book_hash import book_hash
from polybot.venues.sim.book import Side
from polybot.venues.sim.matcher import TimeInForce

U = 1_000_000
T0 = 1_800_000_000
CID = "0x" + "ab" * 32
YES, NO = "1111", "2222"
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b2" * 20
_ids = itertools.count()


@pytest.fixture
def ex() -> Exchange:
    exchange = Exchange(ManualClock(T0 * 10**9), lifecycle=LifecycleConfig(2.0, 4.0, 3.0))
    exchange.add_market(MarketSpec(
        condition_id=CID, question_id="0x" + "cd" * 32, yes_asset=YES, no_asset=NO,
        tick_size=Decimal("0.01"), fees=FeeSchedule(rate=Decimal("0.05"), rebate_rate=Decimal("0.2")),
    ))
    for key, addr in (("key-a", ALICE), ("key-b", BOB)):
        exchange.register_api_key(key, addr)
        exchange.fund(addr, 1000 * U)
    return exchange


def post(ex: Exchange, key: str, asset: str, side: Side, price: str, shares: str,
         tif: TimeInForce = TimeInForce.GTC, **kw: object) -> tuple[str, object]:
    addr = ex.address_of(key) or "0x" + "00" * 20
    size = int(Decimal(shares) * U)
    cash = int(Decimal(shares) * Decimal(price) * U)
    maker, taker = (cash, size) if side is Side.BUY else (size, cash)
    oid = f"0x{next(_ids):064x}"
    fields: dict[str, object] = {"order_id": oid, "api_key": key, "maker": addr, "signer": addr,
                                 "asset_id": asset, "side": side, "maker_amount": maker,
                                 "taker_amount": taker, "order_type": tif}
    fields.update(kw)
    return oid, ex.post_order(PostOrder(**fields))  # type: ignore[arg-type]


def mint_shares(ex: Exchange) -> None:
    """Give ALICE 100 YES and BOB 100 NO via a mint match."""
    post(ex, "key-b", NO, Side.BUY, "0.40", "100")
    post(ex, "key-a", YES, Side.BUY, "0.60", "100")


@pytest.mark.parametrize(("mode", "status", "msg"), [
    (TradingMode.DISABLED, 503, Msg.DISABLED),
    (TradingMode.CANCEL_ONLY, 503, Msg.CANCEL_ONLY),
    (TradingMode.POST_ONLY, 503, Msg.POST_ONLY_MODE),
])
def test_trading_modes_reject_with_official_text(ex: Exchange, mode: TradingMode, status: int, msg: str) -> None:
    ex.set_trading_mode(mode)
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "10")
    assert (res.success, res.http_status, res.error_msg) == (False, status, msg)  # type: ignore[attr-defined]
    if mode is TradingMode.POST_ONLY:
        _, ok = post(ex, "key-a", YES, Side.BUY, "0.50", "10", post_only=True)
        assert ok.success  # type: ignore[attr-defined]


def test_each_validation_rejection(ex: Exchange) -> None:
    oid, res = post(ex, "key-a", YES, Side.BUY, "0.505", "10")
    assert res.error_msg == f"order {oid} is invalid. Price (0.505) breaks minimum tick size rule: 0.01"  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.99", "10")
    assert res.success  # type: ignore[attr-defined]
    oid, res = post(ex, "key-a", YES, Side.BUY, "0.995", "10")
    assert "breaks minimum tick size rule" in res.error_msg  # type: ignore[attr-defined]
    oid, res = post(ex, "key-a", YES, Side.BUY, "0.50", "4")
    assert res.error_msg == f"order {oid} is invalid. Size (4) lower than the minimum: 5"  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", "999", Side.BUY, "0.50", "10")
    assert res.error_msg == Msg.INVALID_TOKEN  # type: ignore[attr-defined]
    _, res = post(ex, "nobody", YES, Side.BUY, "0.50", "10")
    assert (res.http_status, res.error_msg) == (401, Msg.UNAUTHORIZED)  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "10", signer=BOB)
    assert res.error_msg == Msg.SIGNER_MISMATCH  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "10", TimeInForce.FOK, post_only=True)
    assert res.error_msg == Msg.INVALID_PAYLOAD  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "10", TimeInForce.GTD, expiration=T0 + 30)
    assert res.error_msg == Msg.EXPIRATION  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "10", expiration=T0 + 3600)
    assert res.error_msg == Msg.EXPIRATION  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.BUY, "0.50", "5000")
    assert res.error_msg == Msg.BALANCE  # type: ignore[attr-defined]
    _, res = post(ex, "key-a", YES, Side.SELL, "0.50", "10")
    assert res.error_msg == Msg.BALANCE  # type: ignore[attr-defined]


def test_duplicate_marketable_minimum_fok_fak_postonly(ex: Exchange) -> None:
    oid, first = post(ex, "key-b", YES, Side.BUY, "0.10", "10")
    assert first.success  # type: ignore[attr-defined]
    dup = ex.post_order(PostOrder(order_id=oid, api_key="key-b", maker=BOB, signer=BOB, asset_id=YES,
                                  side=Side.BUY, maker_amount=U, taker_amount=10 * U))
    assert dup.error_msg == f"order {oid} is invalid. Duplicated."
    mint_shares(ex)
    post(ex, "key-a", YES, Side.SELL, "0.70", "10")
    _, res = post(ex, "key-b", YES, Side.BUY, "0.70", "1", TimeInForce.FAK)
    assert res.error_msg.startswith("invalid amount for a marketable BUY order")  # type: ignore[attr-defined]
    assert res.error_msg.endswith("min size: $1")  # type: ignore[attr-defined]
    _, res = post(ex, "key-b", YES, Side.BUY, "0.70", "11", TimeInForce.FOK)
    assert res.error_msg == Msg.FOK  # type: ignore[attr-defined]
    _, res = post(ex, "key-b", YES, Side.BUY, "0.65", "11", TimeInForce.FAK)
    assert res.error_msg == Msg.FAK  # type: ignore[attr-defined]
    _, res = post(ex, "key-b", NO, Side.SELL, "0.30", "10", post_only=True)
    assert res.error_msg == Msg.POST_ONLY_CROSSES  # type: ignore[attr-defined]
    _, res = post(ex, "key-b", YES, Side.BUY, "0.70", "20", TimeInForce.FAK)
    assert (res.success, res.status, res.taking_amount) == (True, "matched", 10 * U)  # type: ignore[attr-defined]


def test_match_settles_fees_reservations_and_events(ex: Exchange) -> None:
    seen: list[VenueEvent] = []
    ex.subscribe(seen.append)
    mint_shares(ex)
    assert ex.balance(ALICE, AssetType.CONDITIONAL, YES).balance == 100 * U
    assert ex.balance(BOB, AssetType.CONDITIONAL, NO).balance == 100 * U
    assert ex.accounts.locked[CID] == 100 * U
    oid, rest = post(ex, "key-a", YES, Side.SELL, "0.70", "50")
    assert rest.status == "live"  # type: ignore[attr-defined]
    assert ex.balance(ALICE, AssetType.CONDITIONAL, YES).available == 50 * U
    seen.clear()
    op_before = ex.balance(ex.operator, AssetType.COLLATERAL).balance
    _, res = post(ex, "key-b", YES, Side.BUY, "0.75", "20")
    assert res.status == "matched"
    assert res.making_amount == 14 * U
    fee = int(Decimal(20) * Decimal("0.05") * Decimal("0.7") * Decimal("0.3") * U)
    trade = ex.trades_for(BOB)[-1]
    assert trade.fee == fee
    assert trade.price == Decimal("0.70")
    op_gain = ex.balance(ex.operator, AssetType.COLLATERAL).balance - op_before
    assert op_gain == fee - int(fee * Decimal("0.2"))
    assert ex.accounts.total_collateral() == ex.accounts.total_funded
    kinds = [type(e).__name__ for e in seen]
    assert "PriceChange" in kinds
    assert "BookSnapshot" in kinds
    assert "LastTradePrice" in kinds
    last_trades = [e.to_wire() for e in seen if type(e).__name__ == "LastTradePrice"]
    # The real channel sends the traded size (reference §4.2); clients reject messages without it.
    assert {(m["price"], m["size"]) for m in last_trades} == {("0.7", "20"), ("0.3", "20")}
    trades = [e for e in seen if isinstance(e, TradeEvent)]
    assert {(e.api_key, e.payload["trader_side"]) for e in trades} == {("key-b", "TAKER"), ("key-a", "MAKER")}
    maker_view = next(e for e in trades if e.api_key == "key-a").payload
    assert maker_view["maker_orders"][0]["order_id"] == oid
    assert ex.order(oid).size_matched == 20 * U  # type: ignore[union-attr]
    # lifecycle: MATCHED -> MINED -> CONFIRMED on the clock
    seen.clear()
    ex.advance(2.0)
    ex.advance(2.0)
    statuses = [e.payload["status"] for e in seen if isinstance(e, TradeEvent)
                and e.api_key == "key-b" and e.payload["id"] == trade.trade_id]
    assert statuses == ["MINED", "CONFIRMED"]
    assert trade.transaction_hash.startswith("0x")


def test_book_summary_is_mirrored_and_hashed(ex: Exchange) -> None:
    post(ex, "key-a", YES, Side.BUY, "0.40", "10")
    post(ex, "key-a", YES, Side.BUY, "0.45", "5")
    post(ex, "key-b", NO, Side.BUY, "0.40", "7")         # YES ask at 0.60
    yes = ex.book_summary(YES).to_wire()
    no = ex.book_summary(NO).to_wire()
    assert yes["bids"] == [{"price": "0.4", "size": "10"}, {"price": "0.45", "size": "5"}]
    assert yes["asks"] == [{"price": "0.6", "size": "7"}]
    assert no["bids"] == [{"price": "0.4", "size": "7"}]
    assert no["asks"] == [{"price": "0.6", "size": "10"}, {"price": "0.55", "size": "5"}]
    recomputed = book_hash(**{k: v for k, v in yes.items() if k != "hash"})
    assert yes["hash"] == recomputed
    assert no["hash"] != yes["hash"]


def test_price_change_has_both_tokens_with_post_change_hash(ex: Exchange) -> None:
    seen: list[VenueEvent] = []
    ex.subscribe(seen.append)
    post(ex, "key-a", YES, Side.BUY, "0.40", "10")
    [pc] = [e for e in seen if isinstance(e, PriceChange)]
    wire = pc.to_wire()["price_changes"]
    assert [(c["asset_id"], c["price"], c["side"], c["size"]) for c in wire] == [
        (YES, "0.4", "BUY", "10"), (NO, "0.6", "SELL", "10")]
    assert wire[0]["hash"] == ex.book_summary(YES).hash
    assert (wire[1]["best_bid"], wire[1]["best_ask"]) == ("", "0.6")


def test_cancels_and_gtd_expiry(ex: Exchange) -> None:
    a, _ = post(ex, "key-a", YES, Side.BUY, "0.40", "10")
    b, _ = post(ex, "key-a", NO, Side.BUY, "0.40", "10")
    c, _ = post(ex, "key-a", YES, Side.BUY, "0.30", "10", TimeInForce.GTD, expiration=T0 + 120)
    assert ex.balance(ALICE, AssetType.COLLATERAL).reserved == 11 * U
    res = ex.cancel("key-b", [a])
    assert res.not_canceled == {a: "order not found"}
    assert ex.cancel("key-a", [a]).canceled == [a]
    assert ex.cancel("key-a", [a]).not_canceled == {a: Msg.ALREADY_DONE}
    ex.advance(121)
    assert ex.order(c).status.value == "CANCELED_EXPIRED_ORDER"  # type: ignore[union-attr]
    assert ex.cancel_market("key-a", asset_id=NO).canceled == [b]
    assert ex.balance(ALICE, AssetType.COLLATERAL).reserved == 0
    ex.set_trading_mode(TradingMode.DISABLED)
    assert ex.cancel_all("key-a").error == Msg.DISABLED


def test_heartbeat_dead_man_switch(ex: Exchange) -> None:
    oid, _ = post(ex, "key-a", YES, Side.BUY, "0.40", "10")
    other, _ = post(ex, "key-b", YES, Side.BUY, "0.30", "10")
    first = ex.heartbeat("key-a", "")
    assert first.ok
    bad = ex.heartbeat("key-a", "wrong")
    assert not bad.ok
    assert bad.to_wire() == {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": first.heartbeat_id}
    ex.advance(6)
    second = ex.heartbeat("key-a", first.heartbeat_id)
    assert second.ok
    assert second.heartbeat_id != first.heartbeat_id
    ex.advance(9)
    assert ex.order(oid).is_open  # type: ignore[union-attr]
    ex.advance(2)
    assert not ex.order(oid).is_open  # type: ignore[union-attr]
    assert ex.order(other).is_open  # type: ignore[union-attr]  # key-b never armed
    assert ex.heartbeat("key-a", "").ok   # chain dropped after firing


def test_resolution_cancels_and_redeem_pays_winners(ex: Exchange) -> None:
    seen: list[VenueEvent] = []
    ex.subscribe(seen.append)
    mint_shares(ex)
    oid, _ = post(ex, "key-a", YES, Side.SELL, "0.90", "10")
    ex.resolve(CID, 0)
    assert ex.order(oid).status.value == "CANCELED_MARKET_RESOLVED"  # type: ignore[union-attr]
    assert any(isinstance(e, MarketResolved) and e.to_wire()["winning_asset_id"] == YES for e in seen)
    _, res = post(ex, "key-a", YES, Side.SELL, "0.90", "10")
    assert res.error_msg == Msg.NOT_READY  # type: ignore[attr-defined]
    before = ex.balance(ALICE, AssetType.COLLATERAL).balance
    assert ex.redeem(ALICE, CID) == 100 * U
    assert ex.redeem(BOB, CID) == 0
    assert ex.balance(ALICE, AssetType.COLLATERAL).balance == before + 100 * U
    assert ex.accounts.locked[CID] == 0
    assert ex.accounts.total_collateral() == ex.accounts.total_funded


def test_failed_trade_reverts_settlement() -> None:
    ex = Exchange(ManualClock(T0 * 10**9), failure_hook=lambda _t: FailureMode.FAIL)
    ex.add_market(MarketSpec(condition_id=CID, question_id="q", yes_asset=YES, no_asset=NO,
                             tick_size=Decimal("0.01")))
    for key, addr in (("key-a", ALICE), ("key-b", BOB)):
        ex.register_api_key(key, addr)
        ex.fund(addr, 100 * U)
    mint_shares(ex)
    assert ex.accounts.locked[CID] == 100 * U
    seen: list[VenueEvent] = []
    ex.subscribe(seen.append)
    ex.advance(2)
    ex.advance(3)
    statuses = [e.payload["status"] for e in seen if isinstance(e, TradeEvent) and e.api_key == "key-a"]
    assert statuses == ["RETRYING", "FAILED"]
    assert ex.balance(ALICE, AssetType.COLLATERAL).balance == 100 * U
    assert ex.balance(ALICE, AssetType.CONDITIONAL, YES).balance == 0
    assert ex.accounts.locked[CID] == 0


def test_order_events_and_book_snapshot_types(ex: Exchange) -> None:
    seen: list[VenueEvent] = []
    ex.subscribe(seen.append)
    oid, _ = post(ex, "key-a", YES, Side.BUY, "0.40", "10")
    ex.cancel("key-a", [oid])
    orders = [e.payload for e in seen if isinstance(e, OrderEvent)]
    assert [(o["type"], o["status"]) for o in orders] == [("PLACEMENT", "LIVE"), ("CANCELLATION", "CANCELED")]
    assert orders[0]["original_size"] == "10"
    assert orders[0]["price"] == "0.4"
    ex.set_tick_size(CID, Decimal("0.001"))
    snap = [e for e in seen if isinstance(e, BookSnapshot)][-1].to_wire()
    assert snap["event_type"] == "book"
    assert snap["tick_size"] == "0.001"
