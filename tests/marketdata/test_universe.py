"""Universe selection and its SQLite mirror (real migrated SQLite file)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from polybot.marketdata.universe import (
    UniverseLimits,
    close_missing,
    mark_resolved,
    select_markets,
    upsert_markets,
)
from polybot.model.market import Market, Outcome
from polybot.storage.migrate import init_db
from polybot.storage.models import Market as MarketRow
from polybot.storage.sqlite import make_engine


def _market(cid: str, volume: int, *, outcomes: int = 2, tradable: bool = True) -> Market:
    return Market(
        condition_id=cid,
        question=f"q {cid}",
        outcomes=tuple(
            Outcome(name=n, asset_id=f"{cid}-{n}") for n in ("Yes", "No", "Maybe")[:outcomes]
        ),
        active=True,
        accepting_orders=tradable,
        enable_order_book=True,
        volume_24h=Decimal(volume),
        tick_size=Decimal("0.001"),
        min_order_size=Decimal(5),
    )


def test_select_prefers_tracked_then_busiest_binary_within_token_cap() -> None:
    markets = [
        _market("a", 10),
        _market("b", 50),
        _market("c", 30),
        _market("d", 99, outcomes=3),
        _market("e", 80, tradable=False),
    ]
    chosen = select_markets(markets, UniverseLimits(max_markets=10, max_tokens=5))
    assert [m.condition_id for m in chosen] == ["b", "c"]  # 5 tokens → 2 binary markets
    kept = select_markets(markets, UniverseLimits(max_markets=2, max_tokens=100), keep={"a"})
    assert [m.condition_id for m in kept] == ["a", "b"]


def test_upsert_close_and_resolve_markets(tmp_path: Path) -> None:
    init_db(tmp_path / "polybot.db")
    engine = make_engine(tmp_path / "polybot.db")
    assert (
        upsert_markets(engine, [_market("a", 1), _market("b", 2), _market("d", 3, outcomes=3)]) == 2
    )
    assert upsert_markets(engine, [_market("a", 1)]) == 1  # an update, not a duplicate
    assert close_missing(engine, ["a"]) == 1
    assert mark_resolved(engine, "a", "a-Yes")
    assert not mark_resolved(engine, "zz", "x")
    with Session(engine) as session:
        rows = {r.market_id: r for r in session.scalars(select(MarketRow))}
    assert set(rows) == {"a", "b"}
    assert (rows["a"].yes_token_id, rows["a"].no_token_id, rows["a"].tick_size) == (
        "a-Yes",
        "a-No",
        Decimal("0.001"),
    )
    assert (rows["a"].winning_token_id, rows["a"].is_closed) == ("a-Yes", True)
    assert (rows["b"].is_active, rows["b"].is_closed) == (False, True)
    engine.dispose()
