"""Async client for the CLOB REST API (reference §3): public market data (L0), trading and account
endpoints (L2 HMAC), and API-key management (L1 EIP-712).

Every JSON body is serialised once (``orders.compact_json``) and those exact bytes are both sent
and HMAC-signed; the signature covers the API path *without* the query string, as the venue
checks it. Signing happens per attempt, so retries carry fresh timestamps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec

from polybot.core.errors import AuthError
from polybot.model.fees import NO_FEES, FeeSchedule
from polybot.model.market import Market, OrderBook, Outcome, PriceLevel, PricePoint, Tag
from polybot.venues.polymarket.auth import ApiCreds, l1_headers, l2_headers
from polybot.venues.polymarket.book_hash import book_hash
from polybot.venues.polymarket.contracts import CLOB_URL, POLYGON_CHAIN_ID
from polybot.venues.polymarket.errors import order_error
from polybot.venues.polymarket.http import HttpClient, Params, ParamValue
from polybot.venues.polymarket.orders import SignedOrder, batch_payload, compact_json
from polybot.venues.polymarket.signer import PrivateKeySigner
from polybot.venues.polymarket.wire import (
    ApiKeyResponse,
    BalanceAllowance,
    CancelResult,
    ClobBook,
    ClobMarket,
    ClobMarketDetails,
    ClobTrade,
    CursorPage,
    OpenOrder,
    OrderResponse,
    Page,
    dec,
    parse_time,
)

START_CURSOR: Final = "MA=="      # base64 "0"
END_CURSOR: Final = "LTE="        # base64 "-1": no more pages
MAX_BOOKS_PER_REQUEST: Final = 500
MAX_CANCEL_IDS: Final = 3000
Side = Literal["BUY", "SELL"]
AssetType = Literal["COLLATERAL", "CONDITIONAL", "CONDITIONAL-V2"]
MarketList = Literal["markets", "sampling-markets", "simplified-markets",
                     "sampling-simplified-markets"]


class LastTrade(msgspec.Struct, frozen=True):
    """``/last-trade-price``: price (None before the first trade) and taker side (``""`` if none)."""

    price: Decimal | None
    side: str


class _LastTradeWire(msgspec.Struct):
    price: str | float | None = None
    side: str = ""
    token_id: str = ""


class _PricePointWire(msgspec.Struct):
    t: int
    p: float | str


class _HistoryWire(msgspec.Struct):
    history: list[_PricePointWire] = msgspec.field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Wire → domain


def book_from_wire(raw: ClobBook) -> OrderBook:
    """Return the domain book (wire level order kept: bids ascending, asks descending)."""
    return OrderBook(
        market=raw.market, asset_id=raw.asset_id, timestamp_ms=int(raw.timestamp or 0),
        hash=raw.hash,
        bids=tuple(PriceLevel(Decimal(lv.price), Decimal(lv.size)) for lv in raw.bids),
        asks=tuple(PriceLevel(Decimal(lv.price), Decimal(lv.size)) for lv in raw.asks),
        tick_size=dec(raw.tick_size), min_order_size=dec(raw.min_order_size),
        neg_risk=raw.neg_risk, last_trade_price=dec(raw.last_trade_price),
    )


def book_hash_matches(raw: ClobBook) -> bool:
    """Return True when the book's ``hash`` is the §3.1 sha1 of its own contents (V2 books)."""
    if raw.min_order_size is None or raw.tick_size is None or raw.neg_risk is None:
        return False    # pre-2025 books hashed a different payload
    expected = book_hash(
        market=raw.market, asset_id=raw.asset_id, timestamp=str(raw.timestamp),
        bids=[{"price": lv.price, "size": lv.size} for lv in raw.bids],
        asks=[{"price": lv.price, "size": lv.size} for lv in raw.asks],
        min_order_size=str(raw.min_order_size), tick_size=str(raw.tick_size),
        neg_risk=raw.neg_risk, last_trade_price=str(raw.last_trade_price or ""),
    )
    return expected == raw.hash


def market_from_clob(raw: ClobMarket) -> Market:
    """Return the domain market from a CLOB market object (``tokens[]`` carry winner flags)."""
    rewards = raw.rewards
    return Market(
        condition_id=raw.condition_id, question_id=raw.question_id or "",
        slug=raw.market_slug or "", question=raw.question or "",
        description=raw.description or "",
        outcomes=tuple(Outcome(name=t.outcome, asset_id=t.token_id, price=dec(t.price),
                               winner=t.winner) for t in raw.tokens or ()),
        active=bool(raw.active), closed=bool(raw.closed), archived=bool(raw.archived),
        accepting_orders=bool(raw.accepting_orders),
        enable_order_book=bool(raw.enable_order_book), neg_risk=bool(raw.neg_risk),
        neg_risk_market_id=raw.neg_risk_market_id or "",
        neg_risk_request_id=raw.neg_risk_request_id or "",
        tick_size=dec(raw.minimum_tick_size), min_order_size=dec(raw.minimum_order_size),
        maker_base_fee_bps=int(raw.maker_base_fee or 0),
        taker_base_fee_bps=int(raw.taker_base_fee or 0), seconds_delay=raw.seconds_delay or 0,
        rewards_min_size=dec(rewards.min_size) if rewards else None,
        rewards_max_spread=dec(rewards.max_spread) if rewards else None,
        end_date=parse_time(raw.end_date_iso), event_start_time=parse_time(raw.game_start_time),
        accepting_orders_since=parse_time(raw.accepting_order_timestamp),
        tags=tuple(Tag(label=label) for label in raw.tags or ()),
    )


def market_from_details(raw: ClobMarketDetails) -> Market:
    """Return the domain market from compact ``/clob-markets/{cid}`` (fees from ``fd``)."""
    fee = NO_FEES
    if raw.fd is not None and raw.fd.r is not None:
        fee = FeeSchedule(rate=raw.fd.r, exponent=raw.fd.e or 1, taker_only=raw.fd.to)
    return Market(
        condition_id=raw.c, outcomes=tuple(Outcome(name=t.o, asset_id=t.t) for t in raw.t),
        tick_size=dec(raw.mts), neg_risk=raw.nr, fee_schedule=fee, fees_enabled=not fee.is_free,
        maker_base_fee_bps=int(raw.mbf or 0), taker_base_fee_bps=int(raw.tbf or 0),
        accepting_orders=bool(raw.ao), active=bool(raw.ao), enable_order_book=True,
        min_order_size=dec(raw.mos), seconds_delay=raw.sd or 0,
        event_start_time=parse_time(raw.gst), accepting_orders_since=parse_time(raw.aot),
        rfq_enabled=bool(raw.rfqe), taker_order_delay=bool(raw.itode),
    )


def raise_for_order(response: OrderResponse) -> OrderResponse:
    """Return ``response`` if the order was accepted, else raise the mapped rejection."""
    if not response.success:
        raise order_error(response.error_msg, body=msgspec.to_builtins(response))
    return response


# --------------------------------------------------------------------------------------------
# Client


class ClobClient:
    """CLOB REST client. Public calls need nothing; trading needs ``creds`` (L2) and the signer's
    ``address``; creating/deriving API keys needs ``signer`` (L1)."""

    def __init__(
        self, base_url: str = CLOB_URL, *, creds: ApiCreds | None = None,
        signer: PrivateKeySigner | None = None, address: str | None = None,
        chain_id: int = POLYGON_CHAIN_ID, http: HttpClient | None = None,
    ) -> None:
        self.http = http or HttpClient(base_url, "clob")
        self.creds = creds
        self.signer = signer
        self.address = address or (signer.address if signer else None)
        self.chain_id = chain_id

    async def aclose(self) -> None:
        """Close the HTTP layer."""
        await self.http.aclose()

    async def __aenter__(self) -> ClobClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- plumbing ----------------------------------------------------------------------------

    def _l2(self, method: str, path: str, body: bytes | None) -> dict[str, str]:
        if self.creds is None or self.address is None:
            raise AuthError("no L2 API credentials: set creds/address or create_or_derive_api_key()")
        return l2_headers(self.address, self.creds, method, path, body)

    def _l1(self, nonce: int) -> Callable[[str, str, bytes | None], dict[str, str]]:
        signer = self.signer
        if signer is None:
            raise AuthError("creating or deriving API keys needs the wallet signer (L1)")
        return lambda _method, _path, _body: l1_headers(signer, self.chain_id, nonce)

    async def _get(self, path: str, rtype: type[Any], params: Params | None = None) -> Any:
        return await self.http.request("GET", path, rtype, params=params)

    async def _private(
        self, method: str, path: str, rtype: type[Any], *, params: Params | None = None,
        payload: Any = None, idempotent: bool | None = None, cost: int = 1,
        order_endpoint: bool = False,
    ) -> Any:
        body = None if payload is None else compact_json(payload)
        return await self.http.request(method, path, rtype, params=params, body=body,
                                       sign=self._l2, idempotent=idempotent, cost=cost,
                                       order_endpoint=order_endpoint)

    async def _paged(
        self, path: str, rtype: type[Any], params: list[tuple[str, ParamValue]],
        private: bool,
    ) -> AsyncIterator[Any]:
        cursor = START_CURSOR
        seen: set[str] = set()
        while cursor and cursor != END_CURSOR and cursor not in seen:
            seen.add(cursor)    # a server repeating a cursor must not loop us forever
            query = [*params, ("next_cursor", cursor)]
            page = (await self._private("GET", path, rtype, params=query) if private
                    else await self._get(path, rtype, query))
            for item in page.data:
                yield item
            cursor = page.next_cursor or END_CURSOR

    @property
    def rate_limit(self) -> Any:
        """Return the last ``Poly-RateLimit-*`` header values seen (``http.RateLimitInfo``)."""
        return self.http.rate_limit

    # ---- public: health and market data -------------------------------------------------------

    async def ok(self) -> bool:
        """Return True when the CLOB answers ``/ok``."""
        response = await self.http.send("GET", "/ok")
        return response.is_success

    async def server_time(self) -> int:
        """Return the CLOB's clock (unix seconds)."""
        return int(await self._get("/time", int))

    async def version(self) -> int:
        """Return the CLOB order version (2 for CLOB V2)."""
        raw = await self._get("/version", dict[str, int])
        return int(raw.get("version", 0))

    async def get_book(self, token_id: str) -> OrderBook:
        """Return the order book of one asset (``NotFound`` if no book exists)."""
        return book_from_wire(await self._get("/book", ClobBook, {"token_id": token_id}))

    async def get_books(self, token_ids: Sequence[str]) -> list[OrderBook]:
        """Return several books in one request (≤500 ids)."""
        _check_count(token_ids, MAX_BOOKS_PER_REQUEST, "token ids")
        body = compact_json([{"token_id": t} for t in token_ids])
        raw = await self.http.request("POST", "/books", list[ClobBook], body=body,
                                      idempotent=True)
        return [book_from_wire(b) for b in raw]

    async def get_price(self, token_id: str, side: Side) -> Decimal:
        """Return the price for ``side`` (docs: BUY → best bid, SELL → best ask)."""
        raw = await self._get("/price", dict[str, str], {"token_id": token_id, "side": side})
        return Decimal(raw["price"])

    async def get_prices(self, requests: Sequence[tuple[str, Side]]) -> dict[str, dict[str, Decimal]]:
        """Return ``{token_id: {"BUY": p, "SELL": p}}`` for (token, side) pairs."""
        body = compact_json([{"token_id": t, "side": s} for t, s in requests])
        raw = await self.http.request("POST", "/prices", dict[str, dict[str, str]], body=body,
                                      idempotent=True)
        return {t: {s: Decimal(p) for s, p in sides.items()} for t, sides in raw.items()}

    async def get_midpoint(self, token_id: str) -> Decimal:
        """Return the midpoint of best bid and ask."""
        return Decimal((await self._get("/midpoint", dict[str, str], {"token_id": token_id}))["mid"])

    async def get_midpoints(self, token_ids: Sequence[str]) -> dict[str, Decimal]:
        """Return midpoints of several assets."""
        return await self._post_map("/midpoints", token_ids)

    async def get_spread(self, token_id: str) -> Decimal:
        """Return best ask minus best bid."""
        raw = await self._get("/spread", dict[str, str], {"token_id": token_id})
        return Decimal(raw["spread"])

    async def get_spreads(self, token_ids: Sequence[str]) -> dict[str, Decimal]:
        """Return spreads of several assets."""
        return await self._post_map("/spreads", token_ids)

    async def _post_map(self, path: str, token_ids: Sequence[str]) -> dict[str, Decimal]:
        body = compact_json([{"token_id": t} for t in token_ids])
        raw = await self.http.request("POST", path, dict[str, str], body=body, idempotent=True)
        return {t: Decimal(v) for t, v in raw.items()}

    async def get_last_trade_price(self, token_id: str) -> LastTrade:
        """Return the last trade price and side of one asset."""
        raw = await self._get("/last-trade-price", _LastTradeWire, {"token_id": token_id})
        return LastTrade(dec(raw.price), raw.side)

    async def get_last_trades_prices(self, token_ids: Sequence[str]) -> dict[str, LastTrade]:
        """Return last trade prices of several assets."""
        body = compact_json([{"token_id": t} for t in token_ids])
        raw = await self.http.request("POST", "/last-trades-prices", list[_LastTradeWire],
                                      body=body, idempotent=True)
        return {r.token_id: LastTrade(dec(r.price), r.side) for r in raw}

    async def get_tick_size(self, token_id: str) -> Decimal:
        """Return the asset's current minimum tick size."""
        raw = await self._get("/tick-size", dict[str, float | str], {"token_id": token_id})
        value = dec(raw["minimum_tick_size"])
        assert value is not None
        return value

    async def get_neg_risk(self, token_id: str) -> bool:
        """Return True when the asset trades on the neg-risk exchange."""
        return bool((await self._get("/neg-risk", dict[str, bool], {"token_id": token_id}))
                    ["neg_risk"])

    async def get_fee_rate_bps(self, token_id: str) -> int:
        """Return the V1-era ``base_fee`` in bps (informational; fees come from feeSchedule)."""
        raw = await self._get("/fee-rate", dict[str, float], {"token_id": token_id})
        return int(raw.get("base_fee", 0))

    async def get_prices_history(
        self, token_id: str, *, interval: Literal["1h", "6h", "1d", "1w", "max"] | None = None,
        fidelity_min: int | None = None, start_ts: int | None = None, end_ts: int | None = None,
    ) -> list[PricePoint]:
        """Return the price history of one asset: ``interval`` or both ``start_ts``/``end_ts``."""
        if interval is None and (start_ts is None or end_ts is None):
            raise ValueError("give interval, or both start_ts and end_ts")
        params = {"market": token_id, "interval": interval, "fidelity": fidelity_min,
                  "startTs": start_ts, "endTs": end_ts}
        raw = await self._get("/prices-history", _HistoryWire, params)
        return [PricePoint(p.t, Decimal(repr(p.p)) if isinstance(p.p, float) else Decimal(p.p))
                for p in raw.history]

    async def markets_page(self, cursor: str = START_CURSOR, *,
                           kind: MarketList = "markets") -> Page[Market]:
        """Return one cursor page of ``/markets`` (or a sampling/simplified list)."""
        raw = await self._get(f"/{kind}", CursorPage[ClobMarket], {"next_cursor": cursor})
        nxt = raw.next_cursor if raw.next_cursor not in (None, "", END_CURSOR) else None
        return Page(items=[market_from_clob(m) for m in raw.data], next_cursor=nxt)

    async def iter_markets(self, *, kind: MarketList = "markets") -> AsyncIterator[Market]:
        """Yield every market of a CLOB market list, following ``next_cursor`` to ``LTE=``."""
        async for raw in self._paged(f"/{kind}", CursorPage[ClobMarket], [], private=False):
            yield market_from_clob(raw)

    async def get_market(self, condition_id: str) -> Market:
        """Return one CLOB market by condition id."""
        return market_from_clob(await self._get(f"/markets/{condition_id}", ClobMarket))

    async def get_market_by_token(self, token_id: str) -> str:
        """Return the condition id of the market an asset belongs to."""
        raw = await self._get(f"/markets-by-token/{token_id}", dict[str, Any])
        return str(raw["condition_id"])

    async def get_clob_market(self, condition_id: str) -> Market:
        """Return the compact V2 market details (tick, min size, fee schedule ``fd``, delays)."""
        return market_from_details(await self._get(f"/clob-markets/{condition_id}",
                                                   ClobMarketDetails))

    # ---- private: orders ----------------------------------------------------------------------

    async def post_order(self, order: SignedOrder, *, defer_exec: bool = False,
                         raise_on_reject: bool = True) -> OrderResponse:
        """Post one signed order; a ``success:false`` answer raises the mapped rejection."""
        owner = self._owner()
        response: OrderResponse = await self.http.request(
            "POST", "/order", OrderResponse, body=order.to_json(owner, defer_exec),
            sign=self._l2, idempotent=False, order_endpoint=True)
        return raise_for_order(response) if raise_on_reject else response

    async def post_orders(self, orders: Sequence[SignedOrder], *,
                          defer_exec: bool = False) -> list[OrderResponse]:
        """Post up to 15 orders at once; per-order results (check ``success`` or use
        ``raise_for_order``). The batch size is checked before anything is sent."""
        payload = batch_payload(list(orders), self._owner(), defer_exec)
        result: list[OrderResponse] = await self._private(
            "POST", "/orders", list[OrderResponse], payload=payload, idempotent=False,
            cost=len(payload), order_endpoint=True)
        return result

    def _owner(self) -> str:
        if self.creds is None:
            raise AuthError("posting orders needs L2 API credentials (owner = api key)")
        return self.creds.api_key

    async def cancel_order(self, order_id: str) -> CancelResult:
        """Cancel one order."""
        result: CancelResult = await self._private("DELETE", "/order", CancelResult,
                                                   payload={"orderID": order_id})
        return result

    async def cancel_orders(self, order_ids: Sequence[str]) -> CancelResult:
        """Cancel several orders (≤3000 ids)."""
        _check_count(order_ids, MAX_CANCEL_IDS, "order ids")
        result: CancelResult = await self._private("DELETE", "/orders", CancelResult,
                                                   payload=list(order_ids),
                                                   cost=len(order_ids))
        return result

    async def cancel_all(self) -> CancelResult:
        """Cancel every open order of this API key."""
        result: CancelResult = await self._private("DELETE", "/cancel-all", CancelResult)
        return result

    async def cancel_market_orders(self, *, market: str | None = None,
                                   asset_id: str | None = None) -> CancelResult:
        """Cancel the open orders of one market (condition id) and/or one asset."""
        if market is None and asset_id is None:
            raise ValueError("give market and/or asset_id")
        payload = {k: v for k, v in (("market", market), ("asset_id", asset_id)) if v}
        result: CancelResult = await self._private("DELETE", "/cancel-market-orders",
                                                   CancelResult, payload=payload)
        return result

    async def get_order(self, order_id: str) -> OpenOrder | None:
        """Return one *active* order, or None when it is terminal or unknown to the book."""
        raw = await self._private("GET", f"/data/order/{order_id}", Any)
        if not raw:
            return None
        return msgspec.convert(raw, OpenOrder, strict=False)

    async def iter_open_orders(self, *, market: str | None = None, asset_id: str | None = None,
                               order_id: str | None = None) -> AsyncIterator[OpenOrder]:
        """Yield our open orders, following the cursor pages."""
        params = _pairs({"market": market, "asset_id": asset_id, "id": order_id})
        async for order in self._paged("/data/orders", CursorPage[OpenOrder], params, True):
            yield order

    async def get_open_orders(self, *, market: str | None = None, asset_id: str | None = None,
                              order_id: str | None = None) -> list[OpenOrder]:
        """Return all our open orders (every page)."""
        return [o async for o in self.iter_open_orders(market=market, asset_id=asset_id,
                                                       order_id=order_id)]

    async def iter_trades(
        self, *, trade_id: str | None = None, market: str | None = None,
        asset_id: str | None = None, maker_address: str | None = None,
        before: int | None = None, after: int | None = None,
    ) -> AsyncIterator[ClobTrade]:
        """Yield our trades (``before``/``after`` are unix seconds), following cursor pages."""
        params = _pairs({"id": trade_id, "market": market, "asset_id": asset_id,
                         "maker_address": maker_address, "before": before, "after": after})
        async for trade in self._paged("/data/trades", CursorPage[ClobTrade], params, True):
            yield trade

    async def get_trades(self, **filters: Any) -> list[ClobTrade]:
        """Return all our trades matching ``iter_trades`` filters."""
        return [t async for t in self.iter_trades(**filters)]

    # ---- private: account -----------------------------------------------------------------------

    async def get_balance_allowance(
        self, asset_type: AssetType = "COLLATERAL", *, token_id: str | None = None,
        signature_type: int | None = None,
    ) -> BalanceAllowance:
        """Return balance and allowances in base units (6 decimals)."""
        params = {"asset_type": asset_type, "token_id": token_id,
                  "signature_type": signature_type}
        result: BalanceAllowance = await self._private("GET", "/balance-allowance",
                                                       BalanceAllowance, params=params)
        return result

    async def update_balance_allowance(
        self, asset_type: AssetType = "COLLATERAL", *, token_id: str | None = None,
        signature_type: int | None = None,
    ) -> None:
        """Ask the CLOB to refresh its cached balance/allowance (after approvals or wraps)."""
        params = {"asset_type": asset_type, "token_id": token_id,
                  "signature_type": signature_type}
        await self._private("GET", "/balance-allowance/update", Any, params=params)

    async def is_order_scoring(self, order_id: str) -> bool:
        """Return True when the order earns liquidity rewards."""
        raw = await self._private("GET", "/order-scoring", dict[str, bool],
                                  params={"order_id": order_id})
        return bool(raw.get("scoring", False))

    async def are_orders_scoring(self, order_ids: Sequence[str]) -> dict[str, bool]:
        """Return ``{order_id: scoring}`` for several orders."""
        result: dict[str, bool] = await self._private(
            "POST", "/orders-scoring", dict[str, bool], payload=list(order_ids),
            idempotent=True)
        return result

    async def post_heartbeat(self, heartbeat_id: str = "") -> str:
        """Send a heartbeat (first one arms the dead-man switch); return the id to send next.

        A stale id raises ``InvalidRequest`` whose ``body["heartbeat_id"]`` is the expected one.
        """
        raw = await self._private("POST", "/v1/heartbeats", dict[str, Any],
                                  payload={"heartbeat_id": heartbeat_id}, idempotent=True)
        return str(raw.get("heartbeat_id", ""))

    # ---- API keys ------------------------------------------------------------------------------

    async def create_api_key(self, nonce: int = 0) -> ApiCreds:
        """Create new L2 credentials for the signer (L1-signed)."""
        raw = await self.http.request("POST", "/auth/api-key", ApiKeyResponse,
                                      sign=self._l1(nonce), idempotent=False)
        return ApiCreds(api_key=raw.api_key, secret=raw.secret, passphrase=raw.passphrase)

    async def derive_api_key(self, nonce: int = 0) -> ApiCreds:
        """Re-derive the credentials created earlier with the same ``nonce`` (L1-signed)."""
        raw = await self.http.request("GET", "/auth/derive-api-key", ApiKeyResponse,
                                      sign=self._l1(nonce))
        return ApiCreds(api_key=raw.api_key, secret=raw.secret, passphrase=raw.passphrase)

    async def create_or_derive_api_key(self, nonce: int = 0, *, adopt: bool = True) -> ApiCreds:
        """Create credentials, or derive them when they already exist (create answers 400);
        with ``adopt`` the client uses them from now on."""
        try:
            creds = await self.create_api_key(nonce)
        except AuthError as exc:
            if exc.status != 400:
                raise
            creds = await self.derive_api_key(nonce)
        if adopt:
            self.creds = creds
        return creds

    async def get_api_keys(self) -> list[str]:
        """Return the API keys of this signer."""
        raw = await self._private("GET", "/auth/api-keys", dict[str, list[str]])
        return list(raw.get("apiKeys", []))

    async def delete_api_key(self) -> None:
        """Delete the API key in use (the client forgets it)."""
        await self._private("DELETE", "/auth/api-key", Any)
        self.creds = None


def _pairs(values: Mapping[str, ParamValue]) -> list[tuple[str, ParamValue]]:
    return [(k, v) for k, v in values.items() if v is not None]


def _check_count(items: Sequence[str], limit: int, what: str) -> None:
    if not 0 < len(items) <= limit:
        raise ValueError(f"give 1..{limit} {what}, got {len(items)}")
