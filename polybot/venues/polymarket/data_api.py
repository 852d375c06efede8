"""Async client for the Data API (reference §5): who traded what, positions, holders, leaderboards.

Two generations coexist. **v2** (``/v2/*``) is snake_case, wraps every answer in ``{"data": …}``
and pages with an opaque signed ``cursor`` (sending ``offset`` is a 400); use it by default.
**v1** is camelCase, bare arrays, ``limit``/``offset``; kept for trades/positions/activity because
copy-trading tools and older captures use it. Both decode into the same row types below — v1 rows
via a rename map — so callers never care which generation answered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Generic, Literal, TypeVar

import msgspec

from polybot.model.market import PricePoint
from polybot.venues.polymarket.contracts import DATA_URL
from polybot.venues.polymarket.http import HttpClient, ParamValue
from polybot.venues.polymarket.wire import Page, camel

T = TypeVar("T")
V2_MAX_LIMIT: Final = 1000
V1_MAX_LIMIT: Final = 500


class DataTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A public trade by one wallet (v2 ``/v2/trades`` row; v1 rows decode into it too)."""

    proxy_wallet: str = ""
    side: str = ""
    token_id: str = ""
    condition_id: str = ""
    size: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    timestamp: int = 0
    title: str = ""
    slug: str = ""
    event_slug: str = ""
    outcome: str = ""
    outcome_index: int | None = None
    name: str = ""
    pseudonym: str = ""
    transaction_hash: str = ""


class DataPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A wallet's position in one asset (v2 names; v1 ``size``/``curPrice``… are mapped)."""

    proxy_wallet: str = ""
    token_id: str = ""
    condition_id: str = ""
    current_size: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    total_cost_usdc: Decimal | None = None
    current_price: Decimal | None = None
    current_value: Decimal | None = None
    realized_pnl: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    percent_pnl: Decimal | None = None
    redeemable: bool = False
    mergeable: bool = False
    negative_risk: bool = False
    status: str = ""
    title: str = ""
    slug: str = ""
    event_slug: str = ""
    outcome: str = ""
    outcome_index: int | None = None
    opposite_outcome: str = ""
    opposite_token_id: str = ""
    end_date: str | None = None


class DataActivity(msgspec.Struct, frozen=True, kw_only=True):
    """One on-chain activity of a wallet: TRADE, SPLIT, MERGE, REDEEM, REWARD, CONVERSION…"""

    proxy_wallet: str = ""
    timestamp: int = 0
    type: str = ""
    condition_id: str = ""
    token_id: str = ""
    side: str = ""
    size: Decimal | None = None
    usdc_size: Decimal | None = None
    price: Decimal | None = None
    outcome: str = ""
    outcome_index: int | None = None
    title: str = ""
    slug: str = ""
    event_slug: str = ""
    transaction_hash: str = ""


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """One top holder of an asset."""

    proxy_wallet: str = ""
    amount: Decimal = Decimal(0)
    outcome_index: int | None = None
    name: str = ""
    pseudonym: str = ""


class TokenHolders(msgspec.Struct, frozen=True, kw_only=True):
    """The top holders of one outcome asset."""

    token_id: str = ""
    holders: list[Holder] = msgspec.field(default_factory=list)


class PortfolioValue(msgspec.Struct, frozen=True, kw_only=True):
    """Total value of a wallet's positions (pUSD)."""

    proxy_wallet: str = ""
    value: Decimal = Decimal(0)


class LeaderboardEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One leaderboard row (v2 field names; unknown extra fields are ignored)."""

    rank: int | None = None
    proxy_wallet: str = ""
    name: str = ""
    pseudonym: str = ""
    pnl: Decimal | None = None
    volume: Decimal | None = None


class _V2Point(msgspec.Struct):
    timestamp: int
    price: Decimal


# v1 rows are camelCase with a few different names: v2 field → v1 key where not plain camelCase.
_V1_NAMES: Final[dict[type[Any], dict[str, str]]] = {
    DataTrade: {"token_id": "asset"},
    DataPosition: {
        "token_id": "asset", "current_size": "size", "current_price": "curPrice",
        "total_cost_usdc": "initialValue", "unrealized_pnl": "cashPnl",
        "opposite_token_id": "oppositeAsset",
    },
    DataActivity: {"token_id": "asset"},
    Holder: {},
}


def from_v1(row: Mapping[str, Any], cls: type[T]) -> T:
    """Convert one v1 (camelCase) row into the v2-named row type ``cls``."""
    rename = camel(_V1_NAMES[cls])
    fields = msgspec.structs.fields(cls)  # type: ignore[arg-type]
    snake = {f.name: row[rename(f.name)] for f in fields if rename(f.name) in row}
    return msgspec.convert(snake, cls, strict=False)


class _TokenHoldersV1(msgspec.Struct, frozen=True):
    token: str = ""
    holders: list[dict[str, Any]] = msgspec.field(default_factory=list)


class _Pagination(msgspec.Struct):
    has_more: bool = False
    next_cursor: str | None = None


class _Envelope(msgspec.Struct, Generic[T]):
    data: T
    pagination: _Pagination | None = None


class DataApiClient:
    """Data API client; ``base_url`` is the Data API root (``VenueSettings.url("data")``)."""

    def __init__(self, base_url: str = DATA_URL, *, http: HttpClient | None = None) -> None:
        self.http = http or HttpClient(base_url, "data")

    async def aclose(self) -> None:
        """Close the HTTP layer."""
        await self.http.aclose()

    async def __aenter__(self) -> DataApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- v2 plumbing -------------------------------------------------------------------------

    async def _v2_page(self, path: str, row: type[Any], params: Mapping[str, Any],
                       cursor: str | None, limit: int | None) -> Page[Any]:
        query = _query(params)
        query += [("limit", min(limit, V2_MAX_LIMIT) if limit else None), ("cursor", cursor)]
        raw = await self.http.request("GET", path, _Envelope[list[row]], params=query)  # type: ignore[valid-type]
        nxt = raw.pagination.next_cursor if raw.pagination and raw.pagination.has_more else None
        return Page(items=list(raw.data), next_cursor=nxt or None)

    async def _v2_iter(self, path: str, row: type[Any], params: Mapping[str, Any],
                       page_size: int, max_items: int | None) -> AsyncIterator[Any]:
        cursor: str | None = None
        seen = 0
        while True:
            page = await self._v2_page(path, row, params, cursor, page_size)
            for item in page.items:
                yield item
                seen += 1
                if max_items is not None and seen >= max_items:
                    return
            if page.next_cursor is None or page.next_cursor == cursor or not page.items:
                return
            cursor = page.next_cursor

    # ---- v2 endpoints ------------------------------------------------------------------------

    async def trades_page(self, *, cursor: str | None = None, limit: int | None = None,
                          **filters: Any) -> Page[DataTrade]:
        """Return one ``/v2/trades`` page. Filters: ``user``, ``condition`` (list ≤20),
        ``event_id``, ``side``, ``taker_only``, ``filter_type``, ``filter_amount``, ``start``,
        ``end`` (unix s; only with ``user``)."""
        return await self._v2_page("/v2/trades", DataTrade, filters, cursor, limit)

    def iter_trades(self, *, page_size: int = 500, max_items: int | None = None,
                    **filters: Any) -> AsyncIterator[DataTrade]:
        """Yield ``/v2/trades`` rows across cursor pages (newest first)."""
        return self._v2_iter("/v2/trades", DataTrade, filters, page_size, max_items)

    async def get_trades(self, *, page_size: int = 500, max_items: int | None = None,
                         **filters: Any) -> list[DataTrade]:
        """Return ``/v2/trades`` rows across pages (cap with ``max_items``)."""
        return [t async for t in self.iter_trades(page_size=page_size, max_items=max_items,
                                                  **filters)]

    async def get_positions(self, *, page_size: int = 500, max_items: int | None = None,
                            **filters: Any) -> list[DataPosition]:
        """Return ``/v2/positions`` rows. Filters: ``user``/``condition``, ``status``
        (OPEN|REDEEMABLE|…), ``event_id``, ``sort_by``, ``sort_direction``…"""
        return [p async for p in self._v2_iter("/v2/positions", DataPosition, filters,
                                               page_size, max_items)]

    async def get_activity(self, *, page_size: int = 500, max_items: int | None = None,
                           **filters: Any) -> list[DataActivity]:
        """Return ``/v2/activity`` rows (``user``, ``type`` list, ``start``/``end``…)."""
        return [a async for a in self._v2_iter("/v2/activity", DataActivity, filters,
                                               page_size, max_items)]

    async def get_holders(self, condition: str, *, limit: int | None = None,
                          min_balance: Decimal | None = None) -> list[TokenHolders]:
        """Return the top holders of each outcome of a market (``/v2/holders``)."""
        params = {"condition": condition, "limit": limit, "min_balance": min_balance}
        raw = await self.http.request("GET", "/v2/holders", _Envelope[list[TokenHolders]],
                                      params=_query(params))
        return raw.data

    async def get_value(self, user: str, *, condition: Sequence[str] = ()) -> PortfolioValue:
        """Return the total value of a wallet's positions (``/v2/value``)."""
        params = {"user": user, "condition": list(condition)}
        raw = await self.http.request("GET", "/v2/value", _Envelope[PortfolioValue],
                                      params=_query(params))
        return raw.data

    async def get_leaderboard(
        self, *, time_period: Literal["day", "week", "month", "all"] = "week",
        sort_by: Literal["PNL", "VOLUME"] = "PNL", category: str | None = None,
        limit: int | None = None,
    ) -> list[LeaderboardEntry]:
        """Return the leaderboard (``/v2/leaderboard``) — where copy traders find whales."""
        params = {"time_period": time_period, "sort_by": sort_by, "category": category}
        page = await self._v2_page("/v2/leaderboard", LeaderboardEntry, params, None, limit)
        return page.items

    async def get_prices_history(
        self, token_id: str, *, interval: str | None = None, start: int | None = None,
        end: int | None = None, bucket_seconds: int | None = None,
    ) -> list[PricePoint]:
        """Return ``/v2/prices-history`` points (``interval`` or ``start``/``end`` ≤ 15 days)."""
        params = {"token_id": token_id, "interval": interval, "start": start, "end": end,
                  "bucket_seconds": bucket_seconds}
        raw = await self.http.request("GET", "/v2/prices-history", _Envelope[list[_V2Point]],
                                      params=_query(params))
        return [PricePoint(p.timestamp, p.price) for p in raw.data]

    # ---- v1 (offset) -------------------------------------------------------------------------

    async def get_trades_v1(self, *, limit: int = 100, offset: int = 0,
                            **filters: Any) -> list[DataTrade]:
        """Return one v1 ``/trades`` page (``user``, ``market``, ``side``, ``takerOnly``…)."""
        return await self._v1("/trades", DataTrade, filters, limit, offset)

    async def get_positions_v1(self, *, limit: int = 100, offset: int = 0,
                               **filters: Any) -> list[DataPosition]:
        """Return one v1 ``/positions`` page (``user``, ``market``, ``sizeThreshold``…)."""
        return await self._v1("/positions", DataPosition, filters, limit, offset)

    async def get_activity_v1(self, *, limit: int = 100, offset: int = 0,
                              **filters: Any) -> list[DataActivity]:
        """Return one v1 ``/activity`` page (``user``, ``type``…)."""
        return await self._v1("/activity", DataActivity, filters, limit, offset)

    async def get_holders_v1(self, market: str, *, limit: int | None = None) -> list[TokenHolders]:
        """Return v1 ``/holders`` (top holders per outcome token)."""
        raw = await self.http.request("GET", "/holders", list[_TokenHoldersV1],
                                      params=_query({"market": market, "limit": limit}))
        return [TokenHolders(token_id=r.token, holders=[from_v1(h, Holder) for h in r.holders])
                for r in raw]

    async def _v1(self, path: str, row: type[T], filters: Mapping[str, Any], limit: int,
                  offset: int) -> list[T]:
        query = [*_query(filters), ("limit", min(limit, V1_MAX_LIMIT)), ("offset", offset)]
        raw = await self.http.request("GET", path, list[dict[str, Any]], params=query)
        return [from_v1(item, row) for item in raw]


def _query(params: Mapping[str, Any]) -> list[tuple[str, ParamValue]]:
    """Lists go out comma-joined (the Data API's convention, e.g. ``condition=a,b``)."""
    out: list[tuple[str, ParamValue]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            if value:
                out.append((key, ",".join(str(v) for v in value)))
        elif isinstance(value, Decimal):
            out.append((key, str(value)))
        else:
            out.append((key, value))
    return out
