"""The synthetic universe: deterministic, realistic ids and metadata, sane initial books."""

from __future__ import annotations

import re
from decimal import Decimal

from polybot.core.clock import ManualClock
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.markets import ProtocolVersion
from polybot.localvenue.world import WorldConfig, build_world, seed_exchange

CONFIG = WorldConfig(seed=11, n_binary=60, n_neg_risk_events=6)


def _seeded() -> tuple[Exchange, object]:
    ex = Exchange(ManualClock(1_800_000_000 * 10**9))
    world = build_world(CONFIG)
    seed_exchange(ex, world)
    return ex, world


def test_same_seed_same_world_and_books() -> None:
    a, b = build_world(CONFIG), build_world(CONFIG)
    assert a.markets == b.markets
    assert a.events == b.events
    assert a.fair == b.fair
    assert build_world(WorldConfig(seed=12, n_binary=60, n_neg_risk_events=6)).markets != a.markets
    ex1, _ = _seeded()
    ex2, _ = _seeded()
    for spec in a.markets[:20]:
        assert ex1.book_summary(spec.yes_asset).to_wire() == ex2.book_summary(spec.yes_asset).to_wire()


def test_ids_metadata_ticks_fees_and_versions() -> None:
    world = build_world(WorldConfig(seed=3, n_binary=400, n_neg_risk_events=10))
    for spec in world.markets:
        assert re.fullmatch(r"0x[0-9a-f]{64}", spec.condition_id)
        assert spec.yes_asset.isdigit()
        assert len(spec.yes_asset) > 60
        assert spec.yes_asset != spec.no_asset
        assert spec.question
        assert spec.slug
        assert spec.end_date_iso.endswith("Z")
        assert spec.min_size == 5
    assert {s.tick_size for s in world.markets} >= {
        Decimal("0.01"), Decimal("0.001"), Decimal("0.005"), Decimal("0.0025"), Decimal("0.1")}
    assert {s.version for s in world.markets} == {ProtocolVersion.V1, ProtocolVersion.V2}
    crypto = next(s for s in world.markets if s.category == "crypto")
    assert (crypto.fees.rate, crypto.fees.rebate_rate) == (Decimal("0.07"), Decimal("0.2"))
    assert all(s.fees.is_free for s in world.markets if s.category == "geopolitics")


def test_neg_risk_events_sum_to_about_one_and_books_are_quoted() -> None:
    ex, world = _seeded()
    neg = [e for e in world.events if e.neg_risk]  # type: ignore[attr-defined]
    assert len(neg) == CONFIG.n_neg_risk_events
    for event in neg:
        assert 3 <= len(event.condition_ids) <= 12
        total = sum(world.fair[c] for c in event.condition_ids)  # type: ignore[attr-defined]
        assert abs(total - 1) < Decimal("0.05") * len(event.condition_ids)
        for cid in event.condition_ids:
            assert ex.market(cid).spec.neg_risk
    for market in ex.markets():
        bid, ask = market.book.best_bid(), market.book.best_ask()
        assert bid is not None or ask is not None
        assert bid is None or ask is None or bid < ask
    assert ex.accounts.total_collateral() == ex.accounts.total_funded
