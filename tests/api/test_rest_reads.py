"""REST contract: reads, validation, errors and degraded services, against a real server."""

from __future__ import annotations

import stat

import httpx
import pytest
from api_harness import MARKET_ID, NO, YES, Api, ApiServer, make_settings, short_tmp

from polybot.config.settings import PolymarketCredentials
from services.api.app import ApiOptions, create_app


def test_markets_list_search_filter_and_detail(api: Api) -> None:
    page = api.client.get("/markets").json()
    assert page["total"] == 2
    assert {m["market_id"] for m in page["items"]} == {MARKET_ID, "0xmarket2"}

    found = api.client.get("/markets", params={"q": "TEST pass"}).json()
    open_only = api.client.get("/markets", params={"closed": "false"}).json()
    literal_percent = api.client.get("/markets", params={"q": "100%"}).json()
    paged = api.client.get("/markets", params={"limit": 1, "offset": 1}).json()

    assert [m["market_id"] for m in found["items"]] == [MARKET_ID]
    assert [m["market_id"] for m in open_only["items"]] == [MARKET_ID]
    assert [m["market_id"] for m in literal_percent["items"]] == ["0xmarket2"]
    assert (paged["total"], len(paged["items"]), paged["offset"]) == (2, 1, 1)
    detail = api.client.get(f"/markets/{MARKET_ID}").json()
    assert (detail["yes_token_id"], detail["no_token_id"], detail["tick_size"]) == (YES, NO, "0.01")


def test_unknown_market_is_404_with_hint(api: Api) -> None:
    response = api.client.get("/markets/0xnope")

    assert response.status_code == 404
    assert "no market '0xnope'" in response.json()["detail"]


def test_book_of_foreign_token_is_400(api: Api) -> None:
    response = api.client.get(f"/markets/{MARKET_ID}/book", params={"token_id": "tok-yes-2"})

    assert response.status_code == 400
    assert "not an outcome" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        (f"/markets/{MARKET_ID}/book", "the scanner is not running (prices.pub has no peer)"),
        (f"/markets/{MARKET_ID}/prices", "the analytics service is not running"),
        ("/analytics/ohlc?token_id=t", "the analytics service is not running"),
        ("/analytics/correlations", "the analytics service is not running"),
        ("/strategies/arb-1/runs", "the strategy runner is not running"),
        ("/strategies/arb-1/logs", "the strategy runner is not running"),
        ("/balances", "the state service is not running (state.req has no peer)"),
    ],
)
def test_route_needing_a_stopped_service_is_503_naming_it(
    api: Api, path: str, service: str
) -> None:
    response = api.client.get(path)

    assert response.status_code == 503
    assert response.json()["detail"].startswith(service)


def test_orders_positions_trades_pnl_from_the_database(api: Api) -> None:
    open_orders = api.client.get("/orders").json()
    every_order = api.client.get("/orders", params={"status": "all"}).json()
    one = api.client.get("/orders/coid-1").json()
    positions = api.client.get("/positions").json()
    trades = api.client.get("/trades", params={"market_id": MARKET_ID}).json()
    pnl = api.client.get("/pnl").json()

    assert [o["client_order_id"] for o in open_orders] == ["coid-0"]
    assert len(every_order) == 2
    assert (one["status"], one["price"], one["original_size"]) == ("MATCHED", "0.45", "10")
    assert positions[0]["size"] == "10"
    assert positions[0]["mark"] is None
    assert [t["fill_id"] for t in trades] == ["fill-1"]
    assert pnl["total"]["realized"] == "1.5"
    assert pnl["unmarked"] == [YES]


def test_pnl_by_day_and_summary_without_analytics(api: Api) -> None:
    days = api.client.get("/analytics/pnl").json()
    summary = api.client.get("/analytics/summary").json()

    assert [(d["strategy"], d["realized_pnl"], d["fills"]) for d in days] == [("arb-1", "0.25", 1)]
    assert summary["analytics_available"] is False
    assert summary["price_rows"] is None
    assert (summary["markets"], summary["open_orders"], summary["trades"]) == (2, 1, 1)


def test_strategies_risk_and_wallets_reads(api: Api) -> None:
    strategies = api.client.get("/strategies").json()
    limits = api.client.get("/risk/limits").json()
    risk = api.client.get("/risk").json()

    assert strategies[0]["strategy"] == "arb-1"
    assert strategies[0]["state"] == "UNKNOWN"
    assert limits["max_order_notional"] == "500"
    assert limits["kill_switch"] is False
    assert risk["open_orders"] == 1
    assert risk["total_exposure"] == "4.0"
    assert api.client.get("/wallets").json() == []
    assert api.client.get("/strategies/nope").status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/markets", {"limit": 0}, "limit"),
        ("/markets", {"limit": "many"}, "limit"),
        ("/orders", {"status": "sideways"}, "status"),
        ("/trades", {"since": "2025-01-01T00:00:00"}, "since"),
        ("/analytics/ohlc", {}, "token_id"),
        ("/wallets/0", {}, "wallet_id"),
        ("/strategies/bad name!/runs", {}, "name"),
    ],
)
def test_bad_query_input_is_422_with_a_readable_message(
    api: Api, path: str, params: dict[str, object], words: str
) -> None:
    response = api.client.get(path, params=params)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.startswith("invalid request:")
    assert words in detail


def test_health_live_ready_and_metrics(api: Api) -> None:
    health = api.client.get("/health").json()
    metrics = api.client.get("/metrics")

    assert health["status"] == "degraded"
    assert {link["name"] for link in health["links"]} >= {"state.req", "signals.push", "prices.pub"}
    assert api.client.get("/health/live").json() == {"status": "alive"}
    assert api.client.get("/health/ready").json()["ready"] is True
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "polybot_api_ws_clients 0" in metrics.text


def test_readiness_is_503_without_a_database() -> None:
    with short_tmp() as base:
        app = create_app(make_settings(base))
        with ApiServer(app) as server, httpx.Client(base_url=server.url) as client:
            ready = client.get("/health/ready")
            markets = client.get("/markets")

    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert markets.status_code == 503
    assert "polybot db upgrade" in markets.json()["detail"]


def test_settings_are_masked_and_token_file_is_private() -> None:
    secret = "ab" * 32
    with short_tmp() as base:
        settings = make_settings(base).model_copy(
            update={
                "polymarket": PolymarketCredentials(
                    private_key=secret, api_key="key-id-123", api_secret="s3cr3t"
                )
            }
        )
        app = create_app(settings)
        mode = stat.S_IMODE((settings.data_dir / "api_token").stat().st_mode)
        with ApiServer(app) as server, httpx.Client(base_url=server.url) as client:
            body = client.get("/settings").text

    assert mode == 0o600
    assert secret not in body
    assert "key-id-123" not in body
    assert "s3cr3t" not in body
    assert '"private_key":"**********"' in body


def test_cors_allows_only_configured_origins(api: Api) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = api.client.options("/orders", headers={"Origin": "http://ui.test", **preflight})
    denied = api.client.options("/orders", headers={"Origin": "http://evil.test", **preflight})

    assert allowed.headers.get("access-control-allow-origin") == "http://ui.test"
    assert "access-control-allow-origin" not in denied.headers


def test_openapi_names_operations_and_declares_the_token(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()

    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"list_markets", "place_order", "set_kill_switch", "create_wallet"} <= operations
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    assert schema["paths"]["/orders"]["post"]["security"] == [{"ApiToken": []}]


def test_dashboard_placeholder_then_spa_fallback() -> None:
    with short_tmp() as base:
        dist = base / "dist"
        settings = make_settings(base)
        app_without = create_app(settings, options=ApiOptions(frontend_dist=dist))
        with ApiServer(app_without) as server, httpx.Client(base_url=server.url) as client:
            placeholder = client.get("/ui/")
        (dist / "assets").mkdir(parents=True)
        (dist / "index.html").write_text("<div id=app></div>")
        (dist / "assets" / "app.js").write_text("console.log(1)")
        (base / "secret.txt").write_text("outside")
        app_with = create_app(settings, options=ApiOptions(frontend_dist=dist))
        with ApiServer(app_with) as server, httpx.Client(base_url=server.url) as client:
            index = client.get("/ui/")
            deep_link = client.get("/ui/markets/0xabc")
            asset = client.get("/ui/assets/app.js")
            missing_asset = client.get("/ui/assets/gone.js")
            escape = client.get("/ui/..%2Fsecret.txt")

    assert placeholder.status_code == 200
    assert "not built yet" in placeholder.text
    assert index.text == deep_link.text == "<div id=app></div>"
    assert asset.text == "console.log(1)"
    assert missing_asset.status_code == 404
    assert "outside" not in escape.text
