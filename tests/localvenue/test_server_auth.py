"""L1 (ClobAuth EIP-712) and L2 (HMAC) checks of the local venue over real HTTP (reference §3.2)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from polybot.localvenue.server.harness import VenueServer, quick_config
from polybot.localvenue.server.run import build_venue
from polybot.venues.polymarket import auth
from polybot.venues.polymarket.signer import PrivateKeySigner

CHAIN = 137


@pytest.fixture(scope="module")
def server() -> Iterator[VenueServer]:
    with VenueServer(build_venue(quick_config())) as running:
        yield running


@pytest.fixture
def http(server: VenueServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def _signer() -> PrivateKeySigner:
    return PrivateKeySigner("0x" + secrets.token_hex(32))


def _create(http: httpx.Client, signer: PrivateKeySigner, nonce: int = 0) -> auth.ApiCreds:
    response = http.post("/auth/api-key", headers=auth.l1_headers(signer, CHAIN, nonce))
    assert response.status_code == 200, response.text
    return auth.ApiCreds.from_response(response.json())


def test_create_then_derive_is_deterministic(http: httpx.Client) -> None:
    signer = _signer()
    created = _create(http, signer, nonce=3)
    again = http.post("/auth/api-key", headers=auth.l1_headers(signer, CHAIN, 3))
    assert (again.status_code, again.json()) == (400, {"error": "Could not create api key"})
    derived = http.get("/auth/derive-api-key", headers=auth.l1_headers(signer, CHAIN, 3)).json()
    assert auth.ApiCreds.from_response(derived) == created
    other = http.get("/auth/derive-api-key", headers=auth.l1_headers(signer, CHAIN, 4))
    assert (other.status_code, other.json()) == (400, {"error": "Could not derive api key!"})
    assert _create(http, signer, nonce=4).api_key != created.api_key


def test_l1_rejects_a_signature_by_another_key(http: httpx.Client) -> None:
    victim, attacker = _signer(), _signer()
    headers = auth.l1_headers(attacker, CHAIN)
    headers[auth.POLY_ADDRESS] = victim.address
    response = http.post("/auth/api-key", headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "Invalid L1 Request headers"})


def test_l1_rejects_wrong_chain_stale_timestamp_and_missing_headers(http: httpx.Client) -> None:
    signer = _signer()
    wrong_chain = http.post("/auth/api-key", headers=auth.l1_headers(signer, 80002))
    assert wrong_chain.status_code == 401
    stale = auth.l1_headers(signer, CHAIN, timestamp=int(time.time()) - 3600)
    assert http.post("/auth/api-key", headers=stale).status_code == 401
    headers = auth.l1_headers(signer, CHAIN)
    del headers[auth.POLY_SIGNATURE]
    assert http.post("/auth/api-key", headers=headers).status_code == 401


def _l2(signer: PrivateKeySigner, creds: auth.ApiCreds, method: str, path: str,
        body: bytes | None = None) -> dict[str, str]:
    return auth.l2_headers(signer.address, creds, method, path, body)


def test_l2_hmac_covers_the_exact_body(http: httpx.Client) -> None:
    signer = _signer()
    creds = _create(http, signer)
    body = json.dumps(["0x" + "11" * 32], separators=(",", ":")).encode()
    ok = http.request("DELETE", "/orders", content=body,
                      headers=_l2(signer, creds, "DELETE", "/orders", body))
    assert ok.status_code == 200
    assert ok.json()["not_canceled"] == {"0x" + "11" * 32: "order not found"}
    # Same JSON value, different bytes (a space): the HMAC no longer matches.
    spaced = json.dumps(["0x" + "11" * 32]).replace('"]', '" ]').encode()
    bad = http.request("DELETE", "/orders", content=spaced,
                       headers=_l2(signer, creds, "DELETE", "/orders", body))
    assert (bad.status_code, bad.json()) == (401, {"error": "Unauthorized/Invalid api key"})


def test_l2_signs_the_path_without_query(http: httpx.Client) -> None:
    signer = _signer()
    creds = _create(http, signer)
    headers = _l2(signer, creds, "GET", "/data/orders")
    assert http.get("/data/orders", params={"next_cursor": "MA=="}, headers=headers).status_code == 200
    with_query = _l2(signer, creds, "GET", "/data/orders?next_cursor=MA==")
    assert http.get("/data/orders", params={"next_cursor": "MA=="},
                    headers=with_query).status_code == 401


@pytest.mark.parametrize("tamper", ["passphrase", "address", "api_key", "timestamp", "method"])
def test_l2_rejects_tampered_headers(http: httpx.Client, tamper: str) -> None:
    signer = _signer()
    creds = _create(http, signer)
    headers = _l2(signer, creds, "GET", "/auth/api-keys")
    if tamper == "passphrase":
        headers[auth.POLY_PASSPHRASE] = "x" + creds.passphrase[1:]
    elif tamper == "address":
        headers[auth.POLY_ADDRESS] = _signer().address
    elif tamper == "api_key":
        headers[auth.POLY_API_KEY] = "00000000-0000-4000-8000-000000000000"
    elif tamper == "timestamp":
        headers = auth.l2_headers(signer.address, creds, "GET", "/auth/api-keys",
                                  timestamp=int(time.time()) - 3600)
    else:
        headers = _l2(signer, creds, "POST", "/auth/api-keys")
    response = http.get("/auth/api-keys", headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "Unauthorized/Invalid api key"})


def test_api_key_listing_and_deletion(http: httpx.Client) -> None:
    signer = _signer()
    first, second = _create(http, signer, 0), _create(http, signer, 1)
    listed = http.get("/auth/api-keys", headers=_l2(signer, first, "GET", "/auth/api-keys")).json()
    assert sorted(listed["apiKeys"]) == sorted([first.api_key, second.api_key])
    closed = http.get("/auth/ban-status/closed-only",
                      headers=_l2(signer, first, "GET", "/auth/ban-status/closed-only"))
    assert closed.json() == {"closed_only": False}
    deleted = http.delete("/auth/api-key", headers=_l2(signer, first, "DELETE", "/auth/api-key"))
    assert deleted.json() == "OK"
    gone = http.get("/auth/api-keys", headers=_l2(signer, first, "GET", "/auth/api-keys"))
    assert gone.status_code == 401
    still = http.get("/auth/api-keys", headers=_l2(signer, second, "GET", "/auth/api-keys"))
    assert still.json() == {"apiKeys": [second.api_key]}


def test_private_routes_require_l2(http: httpx.Client) -> None:
    for method, path in (("GET", "/data/orders"), ("GET", "/data/trades"), ("POST", "/order"),
                         ("DELETE", "/cancel-all"), ("GET", "/balance-allowance"),
                         ("POST", "/v1/heartbeats")):
        response = http.request(method, path)
        assert response.status_code == 401, path
        assert response.json() == {"error": "Unauthorized/Invalid api key"}
