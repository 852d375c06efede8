"""Gamma wire objects (reference §2.2–2.4) built from the exchange's markets and events.

Shapes follow the real captures in ``shared/fixtures/polymarket`` (``nt2026_gamma_*``): camelCase
keys, ``outcomes``/``outcomePrices``/``clobTokenIds`` as *strings containing JSON*, ``volume`` and
``liquidity`` as strings next to numeric ``volumeNum``/``liquidityNum``, ISO-8601 dates.
Protocol-V2 markets carry ``positionIds`` (a real JSON array) instead of ``clobTokenIds``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polybot.localvenue.markets import EventSpec, MarketState, ProtocolVersion
from polybot.localvenue.server.context import dec_str, iso_ms, units_float

if TYPE_CHECKING:
    from polybot.localvenue.exchange import Exchange

_HALF = Decimal("0.5")
_SLUG_CLEAN = re.compile(r"[^a-z0-9]+")
# Gamma tag ids are numeric strings; the local ones start high so they never look like real ids.
_TAG_ID_BASE = 900_000


def slugify(text: str) -> str:
    """Return a Gamma-style slug (lower case, dashes)."""
    return _SLUG_CLEAN.sub("-", text.lower()).strip("-")


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One Gamma tag."""

    id: str
    label: str
    slug: str

    def to_json(self, created: str) -> dict[str, Any]:
        """Return the ``/tags`` row."""
        return {
            "id": self.id, "label": self.label, "slug": self.slug, "forceShow": False,
            "createdAt": created, "updatedAt": created, "requiresTranslation": False,
        }


class TagIndex:
    """Assigns stable ids to tag labels in first-seen order (deterministic for a seeded world)."""

    def __init__(self) -> None:
        self._by_label: dict[str, TagInfo] = {}

    def get(self, label: str) -> TagInfo:
        """Return (creating if new) the tag for ``label``."""
        tag = self._by_label.get(label)
        if tag is None:
            tag = TagInfo(str(_TAG_ID_BASE + len(self._by_label)), label, slugify(label))
            self._by_label[label] = tag
        return tag

    def all(self) -> list[TagInfo]:
        """Return every tag seen so far."""
        return list(self._by_label.values())


def yes_price(exchange: Exchange, state: MarketState) -> Decimal:
    """Return the indicative YES price: resolution, else midpoint, else last trade, else 0.5."""
    if state.winning_outcome is not None:
        return Decimal(1) if state.winning_outcome == 0 else Decimal(0)
    bid, ask = exchange.best_bid_ask(state.spec.yes_asset)
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    if state.last_trade_price is not None:
        return state.last_trade_price
    return bid if bid is not None else ask if ask is not None else _HALF


def liquidity_of(state: MarketState) -> float:
    # Notional resting on both sides of the unified (YES-terms) book.
    from polybot.venues.sim.book import BookSide

    total = Decimal(0)
    for side in (BookSide.BID, BookSide.ASK):
        for price, size in state.book.depth(side):
            notional_price = price if side is BookSide.BID else Decimal(1) - price
            total += notional_price * size
    return float(total) / 1_000_000


def _fee_json(state: MarketState) -> dict[str, Any] | None:
    fees = state.spec.fees
    if fees.is_free:
        return None
    return {
        "exponent": fees.exponent, "rate": float(fees.rate), "takerOnly": fees.taker_only,
        "rebateRate": float(fees.rebate_rate),
    }


def event_ref(event: EventSpec, created: str) -> dict[str, Any]:
    """Return the embedded event object a Gamma market carries in ``events``."""
    return {
        "id": event.event_id, "ticker": event.slug, "slug": event.slug, "title": event.title,
        "description": event.description, "startDate": event.start_date_iso or created,
        "creationDate": created, "endDate": event.end_date_iso, "image": event.image,
        "icon": event.icon, "active": True, "closed": False, "archived": False, "new": False,
        "featured": False, "restricted": True, "negRisk": event.neg_risk,
        "enableNegRisk": event.neg_risk, "negRiskAugmented": False,
        "negRiskMarketID": event.neg_risk_market_id, "createdAt": created, "updatedAt": created,
    }


def gamma_market(
    exchange: Exchange,
    state: MarketState,
    *,
    events: dict[str, EventSpec],
    tags: TagIndex,
    include_tag: bool = False,
    embed_event: bool = True,
) -> dict[str, Any]:
    """Return the Gamma market object for one market."""
    spec = state.spec
    created = iso_ms(state.created_ms)
    yes = yes_price(exchange, state)
    price_strings = [dec_str(yes.quantize(Decimal("0.0001"))), dec_str((1 - yes).quantize(
        Decimal("0.0001")))]
    bid, ask = exchange.best_bid_ask(spec.yes_asset)
    volume = units_float(state.volume_units)
    liquidity = liquidity_of(state)
    fee = _fee_json(state)
    market: dict[str, Any] = {
        "id": spec.gamma_id,
        "question": spec.question,
        "conditionId": spec.condition_id,
        "slug": spec.slug,
        "resolutionSource": "",
        "endDate": spec.end_date_iso,
        "liquidity": repr(liquidity) if liquidity else "0",
        "startDate": spec.start_date_iso or created,
        "image": spec.image,
        "icon": spec.icon,
        "description": spec.description,
        "outcomes": json.dumps(list(spec.outcomes)),
        "outcomePrices": json.dumps(price_strings),
        "volume": repr(volume) if volume else "0",
        "active": True,
        "closed": state.closed,
        "marketMakerAddress": "",
        "createdAt": created,
        "updatedAt": created,
        "new": False,
        "featured": False,
        "archived": False,
        "restricted": True,
        "groupItemTitle": spec.group_item_title,
        "groupItemThreshold": "0",
        "questionID": spec.question_id,
        "enableOrderBook": True,
        "orderPriceMinTickSize": float(state.tick_size),
        "orderMinSize": float(spec.min_size) if spec.min_size % 1 else int(spec.min_size),
        "volumeNum": volume,
        "liquidityNum": liquidity,
        "endDateIso": spec.end_date_iso[:10],
        "startDateIso": (spec.start_date_iso or created)[:10],
        "hasReviewedDates": True,
        "volume24hr": volume,
        "volume1wk": volume,
        "volume1mo": volume,
        "volume1yr": volume,
        "volumeClob": volume,
        "liquidityClob": liquidity,
        "version": spec.version.value,
        "makerBaseFee": 0,
        "takerBaseFee": int(spec.fees.rate * 10_000),
        "acceptingOrders": state.accepting_orders and not state.closed,
        "acceptingOrdersTimestamp": created,
        "negRisk": spec.neg_risk,
        "negRiskMarketID": spec.neg_risk_market_id,
        "negRiskOther": False,
        "ready": False,
        "funded": False,
        "cyom": False,
        "approved": True,
        "rfqEnabled": False,
        "holdingRewardsEnabled": False,
        "clearBookOnStart": False,
        "rewardsMinSize": 0,
        "rewardsMaxSpread": 0,
        "spread": float(ask - bid) if bid is not None and ask is not None else 0,
        "lastTradePrice": float(state.last_trade_price) if state.last_trade_price else 0,
        "bestBid": float(bid) if bid is not None else 0,
        "bestAsk": float(ask) if ask is not None else 0,
        "oneDayPriceChange": 0,
        "competitive": 1,
        "category": spec.category,
        "feesEnabled": fee is not None,
        "umaResolutionStatus": "resolved" if state.closed else "",
        "resolutionStatus": "resolved" if state.closed else "active",
    }
    if fee is not None:
        market["feeSchedule"] = fee
        market["feeType"] = f"{slugify(spec.category) or 'default'}_fees"
    if spec.version is ProtocolVersion.V2:
        market["positionIds"] = list(spec.assets)
    else:
        market["clobTokenIds"] = json.dumps(list(spec.assets))
    if state.resolved_ms is not None:
        market["closedTime"] = iso_ms(state.resolved_ms)
    if embed_event and spec.event_id in events:
        market["events"] = [event_ref(events[spec.event_id], created)]
    if include_tag:
        market["tags"] = [tags.get(label).to_json(created) for label in spec.tags]
    return market


def gamma_event(
    exchange: Exchange,
    event: EventSpec,
    *,
    markets: list[MarketState],
    events: dict[str, EventSpec],
    tags: TagIndex,
) -> dict[str, Any]:
    """Return the Gamma event object with its nested markets."""
    created = iso_ms(min((m.created_ms for m in markets), default=exchange.clock.now_ms()))
    nested = [
        gamma_market(exchange, m, events=events, tags=tags, embed_event=False) for m in markets
    ]
    volume = sum(m["volumeNum"] for m in nested)
    liquidity = sum(m["liquidityNum"] for m in nested)
    closed = bool(markets) and all(m.closed for m in markets)
    body = event_ref(event, created)
    body.update({
        "resolutionSource": "", "closed": closed, "liquidity": liquidity, "volume": volume,
        "openInterest": 0, "competitive": 1, "volume24hr": volume, "volume1wk": volume,
        "volume1mo": volume, "volume1yr": volume, "enableOrderBook": True,
        "liquidityClob": liquidity, "commentCount": 0, "cyom": False, "series": [],
        "tags": [tags.get(label).to_json(created) for label in event.tags],
        "markets": nested,
    })
    return body
