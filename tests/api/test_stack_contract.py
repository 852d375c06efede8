"""API contract tests against a real running stack.

One stack per module, started the way ``polybot up`` starts it (``polybot.testing.stack``): the
local venue, state, executor (live, against the local venue), scanner, analytics, runner and api,
in a private data dir with its own ports and ipc sockets. Every route of the OpenAPI document is
called over HTTP, including the refusals: no or a wrong token (401), the state service refusing
the API's token (403), and bad input (4xx with one readable sentence, never a 500).

Every response is checked against the published contract as it arrives (``api_contract``:
declared status, JSON Schema of the OpenAPI document, exactly the typed public model, one-sentence
errors). The last test is the coverage guard: every operation must have answered a success here,
and every state-changing one must also have refused a missing token and bad input, so a route
added without a contract test fails it.

Tests run in file order and build on each other (the fill feeds positions, PnL and analytics).
Every wait is a deadline loop with a generous bound (shared 2-core machines); nothing asserts on
timing.
"""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_contract import Contract
from websockets.sync.client import connect

from polybot.config.settings import Settings
from polybot.localvenue.wallet import load_wallet
from polybot.testing.stack import IsolatedStack, wait_until
from polybot.venues.polymarket.auth import ApiCreds, l2_headers
from services.api.app import create_app
from services.api.routes import orders as order_routes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WAIT_S = 120.0  # generous: the whole stack shares two cores with whatever else runs
SERVICES = {"venue", "state", "executor", "scanner", "analytics", "runner", "api"}
ANALYTICS_ENV = {
    # Correlations every few seconds over 1 s buckets, so a fresh stack has some within a minute
    # (the defaults need an hour of one-minute buckets).
    "POLYBOT_ANALYTICS__CORRELATION_INTERVAL_S": "3",
    "POLYBOT_ANALYTICS__CORRELATION_STEP_S": "1",
    "POLYBOT_ANALYTICS__CORRELATION_WINDOW_S": "120",
    "POLYBOT_ANALYTICS__CORRELATION_MIN_OBSERVATIONS": "5",
    "POLYBOT_ANALYTICS__STATS_INTERVAL_S": "1",
}
COARSE_TICK = Decimal("0.01")
STRATEGY = "contract-arb"
SHADOW_STRATEGY = "contract-shadow"  # never enabled: the executor keeps it in shadow


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[IsolatedStack]:
    """Run the whole stack for this module; nothing may outlive it."""
    running = IsolatedStack(
        prefix="pbct-", executor_mode="live", markets=20, extra_env=ANALYTICS_ENV
    )
    with running:
        yield running
    assert not running.leftovers, f"left behind after polybot down: {running.leftovers}"


@pytest.fixture(scope="module")
def contract(stack: IsolatedStack, tmp_path_factory: pytest.TempPathFactory) -> Contract:
    """Return the contract the running API publishes (the same as the code's)."""
    served = httpx.get(f"{stack.api_url}/openapi.json", timeout=60).raise_for_status().json()
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))
    assert served == json.loads(json.dumps(app.openapi())), "the API serves a stale schema"
    return Contract(served, app)


@pytest.fixture(scope="module")
def http(stack: IsolatedStack, contract: Contract) -> Iterator[httpx.Client]:
    """Yield a client of the real API whose every response is checked against the contract."""
    with contract.client(stack.api_url, timeout=90) as client:

        def healthy() -> bool:
            body = client.get("/health").json()
            return body["status"] == "ok" and {s["name"] for s in body["services"]} >= SERVICES

        wait_until(
            healthy,
            WAIT_S,
            "every service healthy and every API bus link connected",
            diagnose=lambda: client.get("/health").text + "\n" + stack.logs_digest(),
        )
        yield client


@pytest.fixture(scope="module")
def auth(stack: IsolatedStack) -> dict[str, str]:
    """Return the Authorization header with the stack's token."""
    return {"Authorization": f"Bearer {stack.token()}"}


@dataclass(frozen=True)
class Traded:
    """The market and outcome token the order tests trade."""

    market: dict[str, Any]
    token_id: str
    action: str  # BUY_YES or BUY_NO
    tick: Decimal  # the grid our prices use (on every tick the market may have)
    min_size: Decimal

    @property
    def market_id(self) -> str:
        return str(self.market["market_id"])


@pytest.fixture(scope="module")
def traded(http: httpx.Client) -> Traded:
    """Pick an open market whose live book (as the API serves it) has both sides in 0.1–0.9."""
    page = http.get("/markets", params={"active": True, "closed": False, "limit": 100}).json()

    def pick() -> Traded | None:
        for market in page["items"]:
            for token, action in (
                (market["yes_token_id"], "BUY_YES"),
                (market["no_token_id"], "BUY_NO"),
            ):
                response = http.get(
                    f"/markets/{market['market_id']}/book", params={"token_id": token}
                )
                if response.status_code != 200:
                    continue
                book = response.json()
                if (
                    book["best_bid"]
                    and book["best_ask"]
                    and 0.1 <= book["best_bid"] < book["best_ask"] <= 0.9
                ):
                    # The venue moves a market between 0.01 and 0.001 ticks as its price
                    # nears the extremes; prices on the 0.01 grid are on both.
                    tick = max(Decimal(market["tick_size"]), COARSE_TICK)
                    return Traded(market, token, action, tick, Decimal(market["min_order_size"]))
        return None

    picked: Traded = wait_until(pick, WAIT_S, "a live book with bids and asks within 0.1–0.9")
    return picked


@dataclass(frozen=True)
class Recorded:
    """A token whose top of book the analytics service has recorded."""

    market_id: str
    yes_token_id: str
    token_id: str


@pytest.fixture(scope="module")
def recorded(http: httpx.Client) -> Recorded:
    """Wait until analytics has recorded prices of some token (quiet tokens may have none yet)."""
    markets = http.get("/markets", params={"limit": 100}).json()["items"]

    def find() -> Recorded | None:
        for market in markets:
            for token in (market["yes_token_id"], market["no_token_id"]):
                params = {"token_id": token, "hours": 1, "limit": 1}
                history = http.get(f"/markets/{market['market_id']}/prices", params=params)
                if history.json()["points"]:
                    return Recorded(market["market_id"], market["yes_token_id"], token)
        return None

    found: Recorded = wait_until(find, WAIT_S, "analytics to record the prices of some token")
    return found


class Venue:
    """The local venue seen from outside: our wallet's open orders, over authenticated CLOB REST."""

    def __init__(self, stack: IsolatedStack) -> None:
        wallet = load_wallet(stack.data_dir)
        assert wallet is not None, "the local venue wrote no wallet"
        assert wallet.api_key, "the local venue's wallet has no API credentials"
        self.address = wallet.address
        self.creds = ApiCreds(wallet.api_key, wallet.api_secret, wallet.api_passphrase)
        self.url = stack.venue_url

    def open_order(self, venue_order_id: str) -> dict[str, Any] | None:
        """Return the venue's view of one of our orders while it is open (None once final)."""
        path = f"/data/order/{venue_order_id}"
        headers = l2_headers(self.address, self.creds, "GET", path)
        response = httpx.get(self.url + path, headers=headers, timeout=30).raise_for_status()
        order: dict[str, Any] | None = response.json()
        return order


@pytest.fixture(scope="module")
def venue(stack: IsolatedStack, http: httpx.Client) -> Venue:
    return Venue(stack)


# ---- helpers -----------------------------------------------------------------------------------


def book(http: httpx.Client, traded: Traded) -> dict[str, Any]:
    body: dict[str, Any] = (
        http.get(f"/markets/{traded.market_id}/book", params={"token_id": traded.token_id})
        .raise_for_status()
        .json()
    )
    return body


def resting_price(http: httpx.Client, traded: Traded) -> Decimal:
    """Return a BUY price far below the best bid: it rests on the book and does not fill."""
    best_bid = Decimal(str(book(http, traded)["best_bid"]))
    return max(traded.tick, (best_bid / 2).quantize(traded.tick, ROUND_DOWN))


def order_body(traded: Traded, price: Decimal, size: Decimal, **extra: Any) -> dict[str, Any]:
    return {
        "market_id": traded.market_id,
        "token_id": traded.token_id,
        "action": traded.action,
        "price": float(price),
        "size": float(size),
        **extra,
    }


def order_of(http: httpx.Client, traded: Traded, signal_id: str) -> dict[str, Any] | None:
    """Return our order placed by ``signal_id`` (None while the executor has not stored it)."""
    params = {"status": "all", "market_id": traded.market_id, "limit": 5000}
    rows = http.get("/orders", params=params).raise_for_status().json()
    return next((o for o in rows if o["signal_id"] == signal_id), None)


def wait_for_order(
    http: httpx.Client, traded: Traded, signal_id: str, status: str
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        order = order_of(http, traded, signal_id)
        return order if order is not None and order["status"] == status else None

    found: dict[str, Any] = wait_until(
        reached,
        WAIT_S,
        f"order {signal_id} to be {status}",
        diagnose=lambda: f"order now: {order_of(http, traded, signal_id)}",
    )
    return found


def refused(response: httpx.Response, status: int, *words: str) -> str:
    """Assert ``response`` is a refusal with ``status`` whose detail mentions every word."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    detail: str = response.json()["detail"]
    missing = [w for w in words if w.lower() not in detail.lower()]
    assert not missing, f"{detail!r} does not mention {missing}"
    return detail


# ---- health, settings, metrics -----------------------------------------------------------------


def test_stack_health_liveness_readiness_and_metrics(
    http: httpx.Client, stack: IsolatedStack
) -> None:
    health = http.get("/health").json()
    live = http.get("/health/live")
    ready = http.get("/health/ready")
    metrics = http.get("/metrics")

    assert health["status"] == "ok"
    assert {s["name"] for s in health["services"]} >= SERVICES
    assert all(s["healthy"] and s["status"] == "ready" for s in health["services"])
    # The executor names the venue it is configured for: the local one, not polymarket.
    [executor] = [s for s in health["services"] if s["name"] == "executor"]
    wallet = load_wallet(stack.data_dir)
    assert wallet is not None
    assert executor["detail"] == (
        f"live on the local venue at {stack.venue_url} ({wallet.address.lower()})"
    ), executor
    assert {link["name"] for link in health["links"]} >= {
        "state.req",
        "signals.push",
        "analytics.req",
        "strategy_logs.req",
        "prices.pub",
        "events.pub",
    }
    assert all(link["connected"] for link in health["links"])
    assert live.json() == {"status": "alive"}
    assert ready.json() == {"ready": True, "detail": "database readable"}
    assert metrics.headers["content-type"].startswith("text/plain")
    for service in SERVICES - {"venue"}:
        assert f'polybot_service_up{{service="{service}"}} 1' in metrics.text
    assert "polybot_api_ws_clients " in metrics.text


def test_stack_settings_are_the_effective_ones_with_secrets_masked(
    http: httpx.Client, stack: IsolatedStack
) -> None:
    response = http.get("/settings")
    settings = response.json()

    assert settings["data_dir"] == str(stack.data_dir)
    assert settings["executor_mode"] == "live"
    assert settings["venue"]["kind"] == "local"
    assert settings["venue"]["local_port"] == stack.venue_port
    assert settings["api"]["port"] == stack.api_port
    assert settings["bus"]["state_req"] == stack.env["POLYBOT_BUS__STATE_REQ"]
    assert stack.token() not in response.text
    wallet = json.loads((stack.data_dir / "local_wallet.json").read_text())
    assert wallet["private_key"] not in response.text


# ---- markets -----------------------------------------------------------------------------------


def test_stack_markets_list_search_filter_page_and_detail(http: httpx.Client) -> None:
    first = http.get("/markets", params={"limit": 5}).json()
    second = http.get("/markets", params={"limit": 5, "offset": 5}).json()
    everything = http.get("/markets", params={"limit": 500}).json()
    market = first["items"][0]
    word = market["question"].split()[-1].strip("?")
    searched = http.get("/markets", params={"q": word.upper()}).json()
    by_id = http.get("/markets", params={"q": market["market_id"]}).json()
    open_ = http.get("/markets", params={"active": True, "closed": False, "limit": 500}).json()
    neg_risk = http.get("/markets", params={"neg_risk": True, "limit": 500}).json()
    by_event = http.get("/markets", params={"event_slug": market["event_slug"]}).json()
    detail = http.get(f"/markets/{market['market_id']}").json()

    assert first["total"] == second["total"] == everything["total"] >= 20
    assert (first["limit"], first["offset"], second["offset"]) == (5, 0, 5)
    assert len(first["items"]) == len(second["items"]) == 5
    assert not {m["market_id"] for m in first["items"]} & {m["market_id"] for m in second["items"]}
    questions = [m["question"] for m in everything["items"]]
    assert questions == sorted(questions)
    assert searched["total"] >= 1
    for found in searched["items"]:
        text = " ".join(found[k] for k in ("question", "slug", "event_slug", "market_id"))
        assert word.lower() in text.lower()
    assert [m["market_id"] for m in by_id["items"]] == [market["market_id"]]
    assert open_["total"] >= 1
    assert all(m["is_active"] and not m["is_closed"] for m in open_["items"])
    assert all(m["neg_risk"] for m in neg_risk["items"])
    assert all(m["event_slug"] == market["event_slug"] for m in by_event["items"])
    assert market["market_id"] in {m["market_id"] for m in by_event["items"]}
    fixed = {k: v for k, v in market.items() if k not in ("yes_mid", "no_mid")}
    assert {k: v for k, v in detail.items() if k not in ("yes_mid", "no_mid")} == fixed
    assert detail["yes_mid"] is None or 0 <= detail["yes_mid"] <= 1


def test_stack_markets_refuse_bad_input(http: httpx.Client) -> None:
    refused(http.get("/markets/0xnope"), 404, "0xnope", "GET /markets")
    refused(http.get("/markets", params={"limit": 0}), 422, "limit")
    refused(http.get("/markets", params={"limit": 501}), 422, "limit")
    refused(http.get("/markets", params={"offset": -1}), 422, "offset")
    refused(http.get("/markets", params={"active": "maybe"}), 422, "active")


def test_stack_live_book(http: httpx.Client, traded: Traded) -> None:
    market = traded.market
    path = f"/markets/{traded.market_id}"
    yes = http.get(f"{path}/book").json()
    no = http.get(f"{path}/book", params={"token_id": market["no_token_id"], "depth": 1}).json()

    assert yes["token_id"] == market["yes_token_id"]
    assert yes["market_id"] == traded.market_id
    bids, asks = [b["price"] for b in yes["bids"]], [a["price"] for a in yes["asks"]]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert yes["best_bid"] == (bids[0] if bids else None)
    assert yes["best_ask"] == (asks[0] if asks else None)
    assert no["token_id"] == market["no_token_id"]
    assert len(no["bids"]) <= 1
    assert len(no["asks"]) <= 1

    refused(http.get(f"{path}/book", params={"token_id": "tok-x"}), 400, "tok-x", "not an outcome")
    refused(http.get(f"{path}/book", params={"depth": 0}), 422, "depth")
    refused(http.get("/markets/0xnope/book"), 404, "0xnope")


def test_stack_recorded_price_history(http: httpx.Client, recorded: Recorded) -> None:
    path = f"/markets/{recorded.market_id}/prices"
    history = http.get(path, params={"token_id": recorded.token_id, "hours": 1}).json()
    points = history["points"]
    default = http.get(path, params={"limit": 1}).json()

    assert history["token_id"] == recorded.token_id
    assert points
    assert [p["ts"] for p in points] == sorted(p["ts"] for p in points)
    assert all(0 <= p["mid"] <= 1 for p in points)
    assert default["token_id"] == recorded.yes_token_id  # the YES token when none is named
    assert len(default["points"]) <= 1
    refused(http.get(path, params={"token_id": "tok-x"}), 400, "not an outcome")
    refused(http.get(path, params={"hours": 0}), 422, "hours")
    refused(http.get("/markets/0xnope/prices"), 404, "0xnope")


# ---- authentication ----------------------------------------------------------------------------


def test_stack_state_changing_routes_refuse_a_missing_or_wrong_token(
    http: httpx.Client, contract: Contract
) -> None:
    secured = [op for op in contract.operations if op.secured]
    assert len(secured) >= 12  # orders, strategies, risk, wallets
    failures = []
    for op in secured:
        path = "/".join("1" if p.startswith("{") else p for p in op.path.split("/"))
        for header in (None, "Bearer not-the-token", "Basic abc", "Bearer"):
            headers = {"Authorization": header} if header else {}
            response = http.request(op.method, path, json={"on": True}, headers=headers)
            if response.status_code != 401 or "token" not in response.json()["detail"]:
                failures.append(f"{op.method} {path} with {header!r}: {response.status_code}")
    assert failures == []
    # Nothing a refused request carried took effect.
    assert http.get("/risk/limits").json()["kill_switch"] is False


# ---- orders ------------------------------------------------------------------------------------


def test_stack_resting_order_rests_on_the_venue_and_is_cancelled_there(
    http: httpx.Client, auth: dict[str, str], traded: Traded, venue: Venue
) -> None:
    price = resting_price(http, traded)
    body = order_body(traded, price, traded.min_size, signal_id="contract-rest-1")

    placed = http.post("/orders", json=body, headers=auth).json()
    assert placed["outcome"] == "accepted", placed["reason"]
    assert (placed["accepted"], placed["fate"], placed["reason"]) == (True, "signal_accepted", "")
    assert placed["signal_id"] == "contract-rest-1"
    assert placed["data"]["mode"] == "live"

    order = wait_for_order(http, traded, "contract-rest-1", "LIVE")
    coid = order["client_order_id"]
    assert order["venue_order_id"], "a live order carries the venue's order id"
    assert (order["strategy"], order["side"], order["order_type"]) == ("manual", "BUY", "GTC")
    assert (Decimal(order["price"]), Decimal(order["original_size"])) == (price, traded.min_size)
    assert Decimal(order["size_matched"]) == 0
    on_venue = venue.open_order(order["venue_order_id"])
    assert on_venue is not None, "the order is not open on the venue"
    assert on_venue["status"] == "LIVE"
    assert on_venue["asset_id"] == traded.token_id
    assert (Decimal(on_venue["price"]), Decimal(on_venue["original_size"])) == (
        price,
        traded.min_size,
    )
    detail = http.get(f"/orders/{coid}").json()
    assert {k: detail[k] for k in ("signal_id", "status", "venue_order_id")} == {
        k: order[k] for k in ("signal_id", "status", "venue_order_id")
    }
    open_orders = http.get("/orders", params={"strategy": "manual"}).json()
    assert coid in {o["client_order_id"] for o in open_orders}
    assert coid in {
        o["client_order_id"] for o in http.get("/orders", params={"status": "LIVE"}).json()
    }
    matched = http.get("/orders", params={"status": "MATCHED"}).json()
    assert coid not in {o["client_order_id"] for o in matched}
    assert len(http.get("/orders", params={"status": "all", "limit": 1}).json()) == 1

    # Idempotent: the same signal_id again places nothing new and says it is a repeat.
    again = http.post("/orders", json=body, headers=auth).json()
    assert again["outcome"] == "accepted"
    assert "repeats an earlier signal" in again["reason"]
    same = [
        o
        for o in http.get("/orders", params={"status": "all"}).json()
        if o["signal_id"] == "contract-rest-1"
    ]
    assert len(same) == 1

    cancelled = http.delete(f"/orders/{coid}", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["client_order_id"], cancelled.json()["applied"]) == (coid, True)
    final = wait_for_order(http, traded, "contract-rest-1", "CANCELED")
    assert final["client_order_id"] == coid
    assert venue.open_order(order["venue_order_id"]) is None, "still open on the venue"

    refused(http.delete(f"/orders/{coid}", headers=auth), 409, coid, "already CANCELED")
    refused(http.delete("/orders/contract-nope", headers=auth), 404, "contract-nope")
    refused(http.get("/orders/contract-nope"), 404, "contract-nope")
    refused(http.get("/orders", params={"status": "RESTING"}), 422, "status")
    refused(http.get("/orders", params={"limit": 0}), 422, "limit")


def test_stack_marketable_order_fills_into_a_trade_a_position_and_pnl(
    http: httpx.Client, auth: dict[str, str], traded: Traded
) -> None:
    ask = Decimal(str(book(http, traded)["best_ask"]))
    # A few ticks through the ask: enough depth to fill whole even if the book moves meanwhile.
    limit = min(ask + 5 * traded.tick, 1 - traded.tick).quantize(traded.tick)
    # At least the market's minimum and $1.50 of notional (a marketable BUY needs $1).
    size = max(traded.min_size, Decimal(math.ceil(Decimal("1.5") / limit)))
    placed = http.post(
        "/orders", json=order_body(traded, limit, size, signal_id="contract-fill-1"), headers=auth
    ).json()
    assert placed["outcome"] == "accepted", placed["reason"]

    order = wait_for_order(http, traded, "contract-fill-1", "MATCHED")
    assert Decimal(order["size_matched"]) == size
    assert Decimal(order["avg_fill_price"]) <= limit

    def fills() -> list[dict[str, Any]]:
        params = {"strategy": "manual", "market_id": traded.market_id}
        rows = http.get("/trades", params=params).json()
        return [t for t in rows if t["client_order_id"] == order["client_order_id"]]

    def all_fills() -> list[dict[str, Any]]:
        rows = fills()
        return rows if sum(Decimal(t["size"]) for t in rows) == size else []

    trades = wait_until(all_fills, WAIT_S, "the fills of the order")
    assert {(t["side"], t["token_id"], t["strategy"]) for t in trades} == {
        ("BUY", traded.token_id, "manual")
    }
    assert all(Decimal(t["price"]) <= limit for t in trades)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    recent = http.get("/trades", params={"since": hour_ago}).json()
    assert {t["fill_id"] for t in trades} <= {t["fill_id"] for t in recent}
    assert http.get("/trades", params={"since": tomorrow}).json() == []
    assert len(http.get("/trades", params={"limit": 1}).json()) == 1
    refused(http.get("/trades", params={"since": "2026-01-01T00:00:00"}), 422, "since")
    refused(http.get("/trades", params={"limit": 0}), 422, "limit")

    def marked_position() -> dict[str, Any] | None:
        rows = http.get("/positions", params={"strategy": "manual"}).json()
        mine = [p for p in rows if p["token_id"] == traded.token_id]
        return mine[0] if mine and mine[0]["mark"] is not None else None

    position = wait_until(marked_position, WAIT_S, "the position, marked at a live mid")
    assert Decimal(position["size"]) == size
    assert position["market_id"] == traded.market_id
    expected = Decimal(position["size"]) * (
        Decimal(repr(position["mark"])) - Decimal(position["avg_price"])
    )
    assert Decimal(position["unrealized_pnl"]) == expected
    mine = http.get("/positions", params={"account": position["account"]}).json()
    assert traded.token_id in {p["token_id"] for p in mine}
    assert http.get("/positions", params={"account": "0x" + "0" * 40}).json() == []
    with_closed = http.get("/positions", params={"include_closed": True}).json()
    assert len(with_closed) >= len(http.get("/positions").json())
    refused(http.get("/positions", params={"account": "0x" + "0" * 41}), 422, "account")

    pnl = http.get("/pnl").json()
    assert Decimal(pnl["by_strategy"]["manual"]["exposure"]) > 0
    assert Decimal(pnl["total"]["exposure"]) >= Decimal(pnl["by_strategy"]["manual"]["exposure"])
    assert pnl["daily_trades"] >= len(trades)

    risk = http.get("/risk").json()
    assert Decimal(risk["exposure_by_market"][traded.market_id]) > 0
    assert Decimal(risk["total_exposure"]) > 0

    balances = wait_until(
        lambda: http.get("/balances").json()["balances"], WAIT_S, "the executor's balances"
    )
    assert balances["mode"] == "live"
    assert Decimal(balances["balance"]) > 0


def test_stack_shadowed_order_says_it_was_shadowed_and_sends_nothing(
    http: httpx.Client, auth: dict[str, str], traded: Traded
) -> None:
    # The API spells the executor's fate out rather than importing the executor's package.
    from polybot.execution import fates

    assert fates.SIGNAL_SHADOWED == order_routes.SIGNAL_SHADOWED
    price = resting_price(http, traded)
    body = order_body(
        traded, price, traded.min_size, strategy=SHADOW_STRATEGY, signal_id="contract-shadow-1"
    )

    first = http.post("/orders", json=body, headers=auth).json()
    again = http.post("/orders", json=body, headers=auth).json()

    assert (first["outcome"], first["accepted"], first["fate"]) == (
        "shadowed",
        False,
        "signal_shadowed",
    )
    assert "shadow mode" in first["reason"]
    assert "not sent to the venue" in first["reason"]
    assert first["data"]["would_be"] == "accepted"
    assert (again["outcome"], again["accepted"]) == ("shadowed", False)
    assert "repeats an earlier signal" in again["reason"]
    assert "not sent to the venue" in again["reason"]
    placed = http.get("/orders", params={"status": "all", "strategy": SHADOW_STRATEGY}).json()
    assert placed == [], "a shadowed signal reached the order book"


def test_stack_websocket_streams_the_executors_fate_of_an_api_order(
    http: httpx.Client, auth: dict[str, str], traded: Traded, stack: IsolatedStack
) -> None:
    url = f"ws://127.0.0.1:{stack.api_port}/ws?token={stack.token()}"
    with connect(url, max_size=None, open_timeout=60, legacy=True) as ws:
        assert json.loads(ws.recv(timeout=60))["type"] == "welcome"
        subscribe = {"op": "subscribe", "channels": ["events"], "markets": [traded.market_id]}
        ws.send(json.dumps(subscribe))
        assert json.loads(ws.recv(timeout=60))["type"] == "subscribed"
        price = resting_price(http, traded)
        body = order_body(
            traded, price, traded.min_size, strategy=SHADOW_STRATEGY, signal_id="contract-ws-1"
        )
        assert http.post("/orders", json=body, headers=auth).json()["outcome"] == "shadowed"

        def fate() -> dict[str, Any] | None:
            frame = json.loads(ws.recv(timeout=WAIT_S))
            messages = frame if isinstance(frame, list) else []  # objects are control frames
            return next(
                (m for m in messages if m.get("data", {}).get("signal_id") == "contract-ws-1"),
                None,
            )

        event = wait_until(fate, WAIT_S, "the fate of the order on the WebSocket", interval_s=0)
    assert (event["channel"], event["type"]) == ("events", "event")
    assert event["event_type"] == "signal_shadowed"
    assert event["data"]["market_id"] == traded.market_id


def test_stack_risk_limit_and_kill_switch_refuse_orders_with_the_rule(
    http: httpx.Client, auth: dict[str, str], traded: Traded
) -> None:
    original = http.get("/risk/limits").json()["max_order_notional"]
    price = resting_price(http, traded)
    size = max(traded.min_size, Decimal(math.ceil(Decimal(3) / price)))  # notional above 2
    try:
        changed = http.put(
            "/risk/limits", json={"name": "max_order_notional", "value": "2"}, headers=auth
        ).json()
        assert changed["command"] == "risk.set"
        assert changed["result"]["value"] == "2"
        assert http.get("/risk/limits").json()["max_order_notional"] == "2"
        over = http.post("/orders", json=order_body(traded, price, size), headers=auth).json()
        assert (over["outcome"], over["accepted"], over["fate"]) == (
            "rejected",
            False,
            "signal_rejected",
        )
        assert over["reason"].startswith("max_order_notional: "), over["reason"]
    finally:
        http.put(
            "/risk/limits", json={"name": "max_order_notional", "value": original}, headers=auth
        ).raise_for_status()
    assert http.get("/risk").json()["limits"]["max_order_notional"] == original

    refused(
        http.put("/risk/limits", json={"name": "max_open_orders", "value": -1}, headers=auth),
        400,
        "max_open_orders",
    )
    refused(
        http.put("/risk/limits", json={"name": "max_daily_loss", "value": "lots"}, headers=auth),
        400,
        "max_daily_loss",
    )
    refused(http.put("/risk/limits", json={"name": "nope", "value": 1}, headers=auth), 422, "name")
    refused(http.put("/risk/limits", json={"name": "min_balance"}, headers=auth), 422, "value")

    try:
        on = http.post(
            "/risk/kill-switch", json={"on": True, "reason": "contract test"}, headers=auth
        ).json()
        assert on["result"]["kill_switch"] is True
        assert on["result"]["persisted"] is True
        assert http.get("/risk").json()["kill_switch"] is True
        assert http.get("/risk/limits").json()["kill_switch"] is True
        halted = http.post(
            "/orders", json=order_body(traded, price, traded.min_size), headers=auth
        ).json()
        assert (halted["outcome"], halted["accepted"]) == ("rejected", False)
        assert "kill" in halted["reason"].lower(), halted["reason"]
    finally:
        off = http.post("/risk/kill-switch", json={"on": False}, headers=auth)
    assert off.json()["result"]["kill_switch"] is False
    assert http.get("/risk").json()["kill_switch"] is False
    refused(http.post("/risk/kill-switch", json={"on": "maybe"}, headers=auth), 422, "on")
    refused(http.post("/risk/kill-switch", json={"on": True, "typo": 1}, headers=auth), 422, "typo")


def test_stack_cancel_all_cancels_on_the_venue(
    http: httpx.Client, auth: dict[str, str], traded: Traded, venue: Venue
) -> None:
    price = resting_price(http, traded)
    body = order_body(traded, price, traded.min_size, signal_id="contract-rest-2")
    assert http.post("/orders", json=body, headers=auth).json()["outcome"] == "accepted"
    order = wait_for_order(http, traded, "contract-rest-2", "LIVE")
    assert venue.open_order(order["venue_order_id"]) is not None

    nothing = http.post("/orders/cancel-all", json={"strategy": "contract-none"}, headers=auth)
    assert nothing.json()["result"]["scope"] == {"strategy": "contract-none"}
    still = order_of(http, traded, "contract-rest-2")
    assert still is not None
    assert still["status"] == "LIVE"
    response = http.post("/orders/cancel-all", json={"market_id": traded.market_id}, headers=auth)
    result = response.json()
    assert result["command"] == "cancel_all"
    assert result["result"]["scope"] == {"market_id": traded.market_id}
    assert result["result"]["executor"]["delivered"] is True
    wait_for_order(http, traded, "contract-rest-2", "CANCELED")
    assert venue.open_order(order["venue_order_id"]) is None, "still open on the venue"

    refused(http.post("/orders/cancel-all", json={"typo": 1}, headers=auth), 422, "typo")
    refused(http.post("/orders/cancel-all", json={"market_id": 5}, headers=auth), 422, "market_id")


def test_stack_orders_refuse_bad_input_with_a_reason(
    http: httpx.Client, auth: dict[str, str], traded: Traded
) -> None:
    good = order_body(traded, Decimal("0.05"), traded.min_size)
    bad: list[tuple[dict[str, Any], str]] = [
        ({**good, "price": 1.5}, "price"),
        ({**good, "price": 0}, "price"),
        ({**good, "size": 0}, "size"),
        ({**good, "action": "HOLD"}, "action"),
        ({**good, "order_type": "IOC"}, "order_type"),
        ({**good, "signal_id": "has space"}, "signal_id"),
        ({**good, "typo": 1}, "typo"),
        ({k: v for k, v in good.items() if k != "token_id"}, "token_id"),
    ]
    for body, word in bad:
        refused(http.post("/orders", json=body, headers=auth), 422, "invalid request", word)
    not_json = http.post(
        "/orders", content=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    refused(not_json, 422, "invalid request")

    unknown = http.post("/orders", json={**good, "market_id": "0xnope"}, headers=auth).json()
    assert (unknown["outcome"], unknown["accepted"]) == ("rejected", False)
    assert unknown["reason"].startswith("unknown_market: "), unknown["reason"]


# ---- strategies, with the runner ---------------------------------------------------------------


def test_stack_strategy_config_modes_runs_and_logs_in_the_runner(
    http: httpx.Client, auth: dict[str, str]
) -> None:
    path = f"/strategies/{STRATEGY}"
    refused(
        http.put(
            path, json={"strategy_class": "arbitrage", "config": {"min_egde": "0.01"}}, headers=auth
        ),
        422,
        "did you mean 'min_edge'",
    )
    refused(
        http.put(path, json={"strategy_class": "os:system"}, headers=auth),
        422,
        "polybot.strategies",
    )
    refused(http.put(path, json={"strategy_class": "nope"}, headers=auth), 422, "unknown strategy")
    refused(
        http.put("/strategies/bad name!", json={"strategy_class": "arbitrage"}, headers=auth),
        422,
        "name",
    )
    refused(http.put(path, json={"config": {}}, headers=auth), 422, "strategy_class")

    created = http.put(
        path, json={"strategy_class": "arbitrage", "config": {}}, headers=auth
    ).json()
    assert created["strategy_class"] == "polybot.strategies.arbitrage:Arbitrage"
    assert (created["strategy"], created["enabled"], created["mode"]) == (STRATEGY, True, "shadow")
    assert created["config"]["min_edge"] == "0.005"  # the typed defaults, stored explicitly
    # The runner's own view of the instance (not yet started, or just started), never UNKNOWN.
    assert created["state"] in {"NOT_RUNNING", "RUNNING"}, created
    assert STRATEGY in {s["strategy"] for s in http.get("/strategies").json()}

    def runs() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = http.get(f"{path}/runs").json()
        return rows

    def running(mode: str, config_hash: str) -> dict[str, Any] | None:
        state = http.get(path).json()["state"]
        latest = runs()[:1]
        ok = state == "RUNNING" and latest and latest[0]["status"] == "RUNNING"
        return (
            latest[0]
            if ok and (latest[0]["mode"], latest[0]["config_hash"]) == (mode, config_hash)
            else None
        )

    def ended(run_id: str, status: str) -> None:
        def closed() -> bool:
            run = next(r for r in runs() if r["run_id"] == run_id)
            return run["status"] == status and run["ended_at"] is not None

        wait_until(closed, WAIT_S, f"run {run_id} to end as {status}")

    first = wait_until(
        lambda: running("shadow", created["config_hash"]),
        WAIT_S,
        "the runner to run the new strategy in shadow",
        diagnose=lambda: f"strategy: {http.get(path).text}; runs: {runs()}",
    )
    assert first["strategy"] == STRATEGY
    assert first["pid"]
    assert first["ended_at"] is None

    def logged(message: str) -> list[dict[str, Any]]:
        rows = http.get(f"{path}/logs", params={"limit": 500}).json()
        return [r for r in rows if r["message"] == message]

    [started] = wait_until(lambda: logged("started"), WAIT_S, "the runner's 'started' log line")
    assert started["run_id"] == first["run_id"]
    assert started["level"] == "INFO"
    assert started["data"]["mode"] == "shadow"
    of_run = http.get(f"{path}/logs", params={"run_id": first["run_id"], "level": "INFO"}).json()
    assert of_run
    assert all(r["run_id"] == first["run_id"] and r["level"] == "INFO" for r in of_run)
    assert http.get(f"{path}/logs", params={"level": "DECISION"}).status_code == 200
    assert len(http.get(f"{path}/logs", params={"limit": 1}).json()) == 1
    assert len(http.get(f"{path}/runs", params={"limit": 1}).json()) == 1

    enabled = http.post(f"{path}/enable", headers=auth).json()
    assert enabled == {
        "command": "strategy.enable",
        "result": {"strategy": STRATEGY, "mode": "live", "config_hash": created["config_hash"]},
    }
    assert http.get(path).json()["mode"] == "live"
    live = wait_until(lambda: running("live", created["config_hash"]), WAIT_S, "a live run")
    ended(first["run_id"], "RESTARTED")
    # PUT answers with the runner's state, as GET does. The same config again keeps the run's
    # identity (class, hash, mode), so the runner does not restart it: it is RUNNING.
    again = http.put(path, json={"strategy_class": "arbitrage", "config": {}}, headers=auth).json()
    assert (again["config_hash"], again["mode"], again["state"]) == (
        created["config_hash"],
        "live",
        "RUNNING",
    ), again
    assert runs()[0]["run_id"] == live["run_id"]  # not restarted

    shadow = http.post(f"{path}/shadow", headers=auth).json()
    assert (shadow["command"], shadow["result"]["mode"]) == ("strategy.shadow", "shadow")
    assert http.get(path).json()["mode"] == "shadow"
    wait_until(lambda: running("shadow", created["config_hash"]), WAIT_S, "a shadow run again")
    unshadow = http.post(f"{path}/shadow", params={"on": False}, headers=auth).json()
    assert unshadow["result"]["mode"] == "live"
    ended(live["run_id"], "RESTARTED")

    disabled = http.post(f"{path}/disable", headers=auth).json()
    assert disabled["result"]["mode"] == "disabled"
    wait_until(
        lambda: (
            http.get(path).json()["state"] == "NOT_RUNNING" and runs()[0]["status"] == "STOPPED"
        ),
        WAIT_S,
        "the runner to stop the disabled strategy",
    )
    assert http.get(path).json()["mode"] == "disabled"
    assert wait_until(lambda: logged("stopped"), WAIT_S, "the 'stopped' log lines")

    updated = http.put(
        path, json={"strategy_class": "arbitrage", "config": {"min_edge": "0.02"}}, headers=auth
    ).json()
    assert updated["config_hash"] != created["config_hash"]
    assert http.get(path).json()["config"]["min_edge"] == "0.02"
    http.post(f"{path}/enable", headers=auth).raise_for_status()
    wait_until(lambda: running("live", updated["config_hash"]), WAIT_S, "a run of the new config")
    http.post(f"{path}/disable", headers=auth).raise_for_status()

    refused(http.post("/strategies/ghost/enable", headers=auth), 400, "ghost")
    refused(http.post("/strategies/ghost/disable", headers=auth), 400, "ghost")
    refused(http.post("/strategies/ghost/shadow", headers=auth), 400, "ghost")
    refused(http.post(f"{path}/shadow", params={"on": "perhaps"}, headers=auth), 422, "on")
    refused(http.get("/strategies/ghost"), 404, "ghost")
    refused(http.get("/strategies/bad name!"), 422, "name")
    assert http.get("/strategies/ghost/runs").json() == []
    refused(http.get(f"{path}/logs", params={"level": "LOUD"}), 422, "level")
    refused(http.get(f"{path}/logs", params={"limit": 0}), 422, "limit")
    refused(http.get(f"{path}/runs", params={"limit": 0}), 422, "limit")


# ---- wallets -----------------------------------------------------------------------------------


def test_stack_wallet_crud_is_validated(http: httpx.Client, auth: dict[str, str]) -> None:
    address = "0x" + "Cd" * 20
    created = http.post(
        "/wallets", json={"address": address, "label": "whale", "is_default": True}, headers=auth
    )
    assert created.status_code == 201
    wallet = created.json()
    assert (wallet["address"], wallet["label"], wallet["is_default"]) == (
        address.lower(),
        "whale",
        True,
    )
    path = f"/wallets/{wallet['id']}"
    assert http.get(path).json() == wallet
    assert wallet in http.get("/wallets").json()
    patched = http.patch(path, json={"label": "orca", "venue": "polymarket"}, headers=auth).json()
    assert (patched["label"], patched["venue"], patched["address"]) == (
        "orca",
        "polymarket",
        address.lower(),
    )

    refused(
        http.post("/wallets", json={"address": address.upper().replace("0X", "0x")}, headers=auth),
        409,
        "already exists",
    )
    refused(http.post("/wallets", json={"address": "0x12"}, headers=auth), 422, "address")
    refused(
        http.post("/wallets", json={"address": address, "chain_id": 0}, headers=auth),
        422,
        "chain_id",
    )
    refused(http.patch(path, json={"label": None}, headers=auth), 422, "label cannot be null")
    refused(http.patch(path, json={"signature_type": 9}, headers=auth), 422, "signature_type")
    refused(http.patch("/wallets/999999", json={"label": "x"}, headers=auth), 404, "999999")
    refused(http.get("/wallets/0"), 422, "wallet_id")
    refused(http.get("/wallets/999999"), 404, "999999")

    deleted = http.delete(path, headers=auth)
    assert deleted.status_code == 204
    refused(http.get(path), 404, str(wallet["id"]))
    refused(http.delete(path, headers=auth), 404, str(wallet["id"]))
    refused(http.delete("/wallets/0", headers=auth), 422, "wallet_id")


# ---- analytics ---------------------------------------------------------------------------------


def test_stack_analytics_summary_pnl_ohlc_and_correlations_from_real_rows(
    http: httpx.Client, recorded: Recorded
) -> None:
    def ingested() -> dict[str, Any] | None:
        summary: dict[str, Any] = http.get("/analytics/summary").json()
        full = summary["analytics_available"] and summary["price_rows"] and summary["trade_rows"]
        return summary if full else None

    summary = wait_until(ingested, WAIT_S, "analytics to ingest prices and market trades")
    assert summary["markets"] >= 20
    assert summary["trades"] >= 1
    assert summary["open_positions"] >= 1
    assert summary["strategies"] >= 1
    assert Decimal(summary["pnl"]["exposure"]) > 0

    today = datetime.now(UTC).date().isoformat()
    days = http.get("/analytics/pnl", params={"days": 2}).json()
    manual = [d for d in days if d["strategy"] == "manual"]
    assert manual, days
    assert manual[-1]["day"] in {today, (datetime.now(UTC) - timedelta(days=1)).date().isoformat()}
    assert sum(d["fills"] for d in manual) >= 1
    assert Decimal(manual[-1]["volume"]) > 0
    only = http.get("/analytics/pnl", params={"strategy": "manual"}).json()
    assert {d["strategy"] for d in only} == {"manual"}
    refused(http.get("/analytics/pnl", params={"days": 0}), 422, "days")
    refused(http.get("/analytics/pnl", params={"days": 4000}), 422, "days")

    params = {"token_id": recorded.token_id, "interval_s": 5, "hours": 1}
    ohlc = http.get("/analytics/ohlc", params=params).json()
    assert ohlc, "a token with recorded prices has OHLC bars"
    assert [b["ts"] for b in ohlc] == sorted(b["ts"] for b in ohlc)
    for bar in ohlc:
        assert bar["low"] <= min(bar["open"], bar["close"])
        assert max(bar["open"], bar["close"]) <= bar["high"]
        assert bar["observations"] >= 1
    assert http.get("/analytics/ohlc", params={"token_id": "tok-none"}).json() == []
    refused(http.get("/analytics/ohlc"), 422, "token_id")
    refused(
        http.get("/analytics/ohlc", params={"token_id": "t", "interval_s": 0}), 422, "interval_s"
    )
    refused(http.get("/analytics/ohlc", params={"token_id": "t", "hours": 0}), 422, "hours")

    def correlations() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = http.get("/analytics/correlations").json()
        return rows

    pairs = wait_until(correlations, WAIT_S, "market correlations from the analytics job")
    assert len({p["ts"] for p in pairs}) == 1, "only the latest run is served"
    strengths = [abs(p["correlation"]) for p in pairs]
    assert strengths == sorted(strengths, reverse=True)
    for pair in pairs:
        assert abs(pair["correlation"]) <= 1 + 1e-9  # DuckDB's corr() may overshoot ±1 by an ulp
        assert pair["observations"] >= 5
        assert pair["window_s"] == 120
        assert pair["market_a"] < pair["market_b"]

    def involving_one_market() -> tuple[str, list[dict[str, Any]]] | None:
        # A new run every few seconds may drop a pair: take the market from the latest run.
        latest = correlations()
        if not latest:
            return None
        market = latest[0]["market_a"]
        rows = http.get("/analytics/correlations", params={"market_id": market}).json()
        return (market, rows) if rows else None

    market, involving = wait_until(involving_one_market, WAIT_S, "correlations of one market")
    assert all(market in (p["market_a"], p["market_b"]) for p in involving)
    assert len(http.get("/analytics/correlations", params={"limit": 1}).json()) == 1
    refused(http.get("/analytics/correlations", params={"limit": 0}), 422, "limit")


# ---- the state service refusing the API's token ------------------------------------------------


def restart_state(stack: IsolatedStack, http: httpx.Client) -> None:
    """SIGTERM the state service; wait until the supervisor has it serving again."""
    old = stack.service_pid("state")
    assert old > 0, "the supervisor reports no state service pid"
    os.kill(old, signal.SIGTERM)

    def serving() -> bool:
        pid = stack.service_pid("state")
        if pid in (0, old) or not stack.ready_file("state").exists():
            return False
        links = http.get("/health").json()["links"]
        return any(link["name"] == "state.req" and link["connected"] for link in links)

    wait_until(serving, WAIT_S, "the supervisor to restart the state service")


def test_stack_state_service_refusing_the_api_token_is_403(
    http: httpx.Client, auth: dict[str, str], stack: IsolatedStack
) -> None:
    token_file = stack.data_dir / "api_token"
    original = token_file.read_text()
    off = {"on": False, "reason": "contract test"}
    try:
        _write_private(token_file, "a-rotated-token\n")
        restart_state(stack, http)
        # The API still holds the old token: its caller is fine (not a 401), the state is not.
        refused(command_answer(http, auth, off), 403, "state service refused", "unauthorized")
    finally:
        _write_private(token_file, original)
        restart_state(stack, http)
    answered = command_answer(http, auth, off)
    assert answered.status_code == 200, answered.text


def command_answer(
    http: httpx.Client, auth: dict[str, str], body: dict[str, Any]
) -> httpx.Response:
    """Send the kill-switch command until the (restarted) state service answers it."""

    def answer() -> httpx.Response | None:
        response = http.post("/risk/kill-switch", json=body, headers=auth)
        return None if response.status_code == 503 else response

    found: httpx.Response = wait_until(answer, WAIT_S, "the state service to answer a command")
    return found


def _write_private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


# ---- the guard ---------------------------------------------------------------------------------


def test_stack_contract_covers_every_route_of_the_openapi_document(
    contract: Contract, request: pytest.FixtureRequest
) -> None:
    """Fails when a route is added (or a test removed) without a contract test on the stack."""
    here = [item for item in request.session.items if item.path == request.path]
    defined = [name for name in globals() if name.startswith("test_stack_")]
    if {item.name for item in here} != set(defined):
        pytest.skip("the coverage guard needs every test of this module to have run")
    documented_422 = [
        op.operation_id
        for op in contract.operations
        if "HTTPValidationError" in json.dumps(op.responses)
    ]
    assert documented_422 == [], "422 answers are ErrorBody: declare errors(422) on the route"
    unsecured_writes = [
        op.operation_id for op in contract.operations if op.method != "GET" and not op.secured
    ]
    assert unsecured_writes == [], "every state-changing route needs the token"
    assert contract.gaps() == []
