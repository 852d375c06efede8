"""The admin API, the local wallet bootstrap and the ``polybot sim`` command, for real."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from polybot.localvenue.server.app import AppOptions
from polybot.localvenue.server.harness import LocalTrader, VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.localvenue.wallet import WALLET_FILE, load_wallet
from polybot.venues.polymarket import auth


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config(markets=60))) as running:
        yield running


@pytest.fixture
def http(server: VenueServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _v1_market(http: httpx.Client, index: int) -> dict[str, Any]:
    v1 = {m["conditionId"] for m in http.get(
        "/gamma/markets", params={"limit": 500, "version": "v1"}).json()}
    rows = [m for m in http.get("/markets").json()["data"]
            if m["condition_id"] in v1 and not m["neg_risk"]]
    return rows[index]


def test_fund_credits_pusd(http: httpx.Client) -> None:
    trader = LocalTrader(http, fund="12.5")
    response = http.post("/_polybot/admin/fund", json={"address": trader.address, "amount": "7.5"})
    assert response.json() == {"address": trader.address, "balance": "20"}
    balance = trader.request("GET", "/balance-allowance")
    assert balance.json()["balance"] == "20000000"
    assert http.post("/_polybot/admin/fund", json={"address": "0x12", "amount": "1"}).status_code == 400
    assert http.post("/_polybot/admin/fund",
                     json={"address": trader.address, "amount": "-1"}).status_code == 400


def test_advance_expires_gtd_orders(http: httpx.Client) -> None:
    market = _v1_market(http, 0)
    trader = LocalTrader(http)
    now = http.get("/time").json()
    order = trader.order(market, price=float(market["minimum_tick_size"]), size=10,
                         order_type="GTD")
    order["order"]["expiration"] = str(now + 120)
    # expiration is not part of the V2 signed struct, so it can be set after signing
    placed = trader.post("/order", order).json()
    assert placed["status"] == "live"
    assert http.post("/_polybot/admin/advance", json={"seconds": 300}).status_code == 200
    assert http.get("/time").json() >= now + 300
    orders = trader.request("GET", "/data/orders").json()
    assert orders["data"] == []


def test_resolve_updates_clob_gamma_and_cancels_orders(http: httpx.Client) -> None:
    market = _v1_market(http, 1)
    trader = LocalTrader(http)
    tick = float(market["minimum_tick_size"])
    assert trader.post("/order", trader.order(market, price=tick, size=10)).json()["success"]
    resolved = http.post("/_polybot/admin/resolve",
                         json={"condition_id": market["condition_id"], "outcome": 1})
    assert resolved.json()["winning_outcome"] == "No"
    clob = http.get(f"/markets/{market['condition_id']}").json()
    assert clob["closed"] is True
    assert [t["winner"] for t in clob["tokens"]] == [False, True]
    gamma = http.get("/gamma/markets", params={"condition_ids": market["condition_id"]}).json()[0]
    assert gamma["closed"] is True
    assert json.loads(gamma["outcomePrices"]) == ["0", "1"]
    assert trader.request("GET", "/data/orders").json()["data"] == []
    again = http.post("/_polybot/admin/resolve",
                      json={"condition_id": market["condition_id"], "outcome": 0})
    assert again.status_code == 400
    unknown = http.post("/_polybot/admin/resolve", json={"condition_id": "0x00", "outcome": 0})
    assert unknown.status_code == 404
    late = trader.post("/order", trader.order(market, price=tick, size=10))
    assert late.json()["error"] == "the market is not yet ready to process new orders"


def test_speed_and_state(http: httpx.Client) -> None:
    assert http.post("/_polybot/admin/speed", json={"speed": 5}).json()["speed"] == 5
    assert http.get("/_polybot/admin/state").json()["speed"] == 5
    assert http.post("/_polybot/admin/speed", json={"speed": 0}).status_code == 400
    http.post("/_polybot/admin/speed", json={"speed": 1})


def test_admin_token_is_required_when_configured() -> None:
    venue = build_venue(quick_config(app=AppOptions(admin_token="s3cret")))
    with VenueServer(venue) as running, httpx.Client(base_url=running.url) as client:
        denied = client.get("/_polybot/admin/state")
        assert denied.status_code == 403
        allowed = client.get("/_polybot/admin/state", headers={"X-Polybot-Admin-Token": "s3cret"})
        assert allowed.status_code == 200


def test_wallet_bootstrap_writes_a_private_file_with_working_creds(tmp_path: Path) -> None:
    venue = build_venue(quick_config(data_dir=tmp_path))
    path = tmp_path / WALLET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wallet = load_wallet(tmp_path)
    assert wallet is not None
    assert wallet.private_key not in repr(wallet)
    with VenueServer(venue) as running, httpx.Client(base_url=running.url) as client:
        creds = auth.ApiCreds(wallet.api_key, wallet.api_secret, wallet.api_passphrase)
        headers = auth.l2_headers(wallet.address, creds, "GET", "/balance-allowance")
        balance = client.get("/balance-allowance", headers=headers).json()["balance"]
        assert balance == str(10_000 * 1_000_000)
        derived = client.get("/auth/derive-api-key", headers=auth.l1_headers(wallet.signer, 137))
        assert derived.json()["apiKey"] == wallet.api_key
    # Same data dir, new process state: the same wallet and the same derived key.
    again = build_venue(quick_config(data_dir=tmp_path))
    assert again.wallet is not None
    assert (again.wallet.address, again.wallet.api_key) == (wallet.address, wallet.api_key)


def test_polybot_sim_command_prints_address_not_key(tmp_path: Path) -> None:
    funded = "0x" + secrets.token_hex(20)
    env = {**os.environ, "POLYBOT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from polybot.cli.main import run; run()", "sim", "--port", "0",
         "--markets", "20", "--flow-rate", "50", "--fund", f"{funded}=25"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )
    try:
        lines = []
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "wallet 0x" in line:
                break
        output = "".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output)
        assert url is not None, output
        wallet = load_wallet(tmp_path)
        assert wallet is not None
        assert wallet.address in output
        assert wallet.private_key[2:] not in output
        with httpx.Client(base_url=url.group(1)) as client:
            assert client.get("/ok").json() == "OK"
            trader_view = client.get("/_polybot/admin/state").json()
            assert trader_view["markets"] >= 1
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
