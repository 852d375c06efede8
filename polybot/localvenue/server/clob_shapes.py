"""CLOB market objects (reference §3.1): ``/markets`` rows, simplified rows, ``/clob-markets``.

Snake_case like the real captures (``nt2024_clob_http_market.json``,
``nt2026_clob_market_closed_*``): ``minimum_order_size``/``minimum_tick_size`` and
``tokens[].price`` are numbers here (the one corner of the CLOB that is not all strings),
``tokens[].winner`` marks the winner after resolution.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from polybot.localvenue.markets import MarketState
from polybot.localvenue.server.context import iso_ms
from polybot.localvenue.server.gamma_shapes import yes_price

if TYPE_CHECKING:
    from polybot.localvenue.exchange import Exchange


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _tokens(exchange: Exchange, state: MarketState) -> list[dict[str, Any]]:
    yes = yes_price(exchange, state)
    prices = (yes, Decimal(1) - yes)
    spec = state.spec
    return [
        {
            "token_id": asset,
            "outcome": spec.outcomes[index],
            "price": float(prices[index].quantize(Decimal("0.0001"))),
            "winner": state.winning_outcome == index,
        }
        for index, asset in enumerate(spec.assets)
    ]


def _rewards() -> dict[str, Any]:
    return {"rates": None, "min_size": 0, "max_spread": 0}


def clob_market(exchange: Exchange, state: MarketState) -> dict[str, Any]:
    """Return the CLOB market object (``/markets`` rows and ``/markets/{condition_id}``)."""
    spec = state.spec
    accepting = state.accepting_orders and not state.closed
    return {
        "enable_order_book": True,
        "active": True,
        "closed": state.closed,
        "archived": False,
        "accepting_orders": accepting,
        "accepting_order_timestamp": iso_ms(state.created_ms)[:19] + "Z",
        "minimum_order_size": _number(spec.min_size),
        "minimum_tick_size": _number(state.tick_size),
        "condition_id": spec.condition_id,
        "question_id": spec.question_id,
        "question": spec.question,
        "description": spec.description,
        "market_slug": spec.slug,
        "end_date_iso": spec.end_date_iso or None,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": 0,
        "taker_base_fee": int(spec.fees.rate * 10_000),
        "notifications_enabled": True,
        "neg_risk": spec.neg_risk,
        "neg_risk_market_id": spec.neg_risk_market_id,
        "neg_risk_request_id": spec.question_id if spec.neg_risk else "",
        "icon": spec.icon,
        "image": spec.image,
        "rewards": _rewards(),
        "is_50_50_outcome": False,
        "tokens": _tokens(exchange, state),
        "tags": list(spec.tags),
    }


def simplified_market(exchange: Exchange, state: MarketState) -> dict[str, Any]:
    """Return the ``/simplified-markets`` row."""
    return {
        "condition_id": state.spec.condition_id,
        "rewards": _rewards(),
        "tokens": _tokens(exchange, state),
        "active": True,
        "closed": state.closed,
        "archived": False,
        "accepting_orders": state.accepting_orders and not state.closed,
    }


def compact_market(state: MarketState) -> dict[str, Any]:
    """Return ``/clob-markets/{condition_id}`` (TS ``MarketDetails``; false flags omitted)."""
    spec = state.spec
    created = iso_ms(state.created_ms)[:19] + "Z"
    body: dict[str, Any] = {
        "c": spec.condition_id,
        "t": [{"t": asset, "o": spec.outcomes[i]} for i, asset in enumerate(spec.assets)],
        "mts": _number(state.tick_size),
    }
    if spec.neg_risk:
        body["nr"] = True
    fee: dict[str, Any] = {"r": float(spec.fees.rate), "e": spec.fees.exponent}
    if spec.fees.taker_only:
        fee["to"] = True
    body.update({
        "fd": fee,
        "mbf": 0,
        "tbf": int(spec.fees.rate * 10_000),
        "r": None,
        "ao": state.accepting_orders and not state.closed,
        "mos": _number(spec.min_size),
        "sd": 0,
        "gst": None,
        "cbos": False,
        "aot": created,
        "rfqe": False,
        "itode": False,
        "ibce": False,
    })
    return body
