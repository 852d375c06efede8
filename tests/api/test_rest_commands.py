"""REST contract: state-changing routes, against the real state service and real NNG sockets.

The state service runs as its own process (``python -m services.state``); the executor's bus face
is ``ExecutorPeer`` (see api_harness). The same routes against the whole real stack, executor
included, are in test_stack_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_harness import MARKET_ID, YES, Api, ExecutorPeer, ServiceProcess

MUTATING = [
    (
        "post",
        "/orders",
        {"market_id": "m", "token_id": "t", "action": "BUY_YES", "price": 0.5, "size": 1},
    ),
    ("post", "/orders/cancel-all", {}),
    ("delete", "/orders/coid-0", None),
    ("put", "/strategies/x", {"strategy_class": "arbitrage"}),
    ("post", "/strategies/arb-1/enable", None),
    ("post", "/strategies/arb-1/disable", None),
    ("post", "/strategies/arb-1/shadow", None),
    ("put", "/risk/limits", {"name": "max_open_orders", "value": 3}),
    ("post", "/risk/kill-switch", {"on": True}),
    ("post", "/wallets", {"address": "0x" + "1" * 40}),
    ("patch", "/wallets/1", {"label": "x"}),
    ("delete", "/wallets/1", None),
]


@pytest.fixture(scope="module")
def state_processes(api: Api) -> Iterator[list[ServiceProcess]]:
    """Hold the state service processes started for this module; stop them at the end."""
    processes: list[ServiceProcess] = []
    yield processes
    for process in processes:
        process.stop()


@pytest.fixture
def state_service(api: Api, state_processes: list[ServiceProcess]) -> ServiceProcess:
    """Return a running real state service, starting one when none runs.

    Restarted when it has exited: ``Replier.aserve`` currently lets an idle ``arecv`` time out
    (pynng.Timeout after bus.recv_timeout_ms), which ends the process — the supervisor restarts
    it in production; here the fixture does.
    """
    if not state_processes or state_processes[-1].proc.poll() is not None:
        state_processes.append(ServiceProcess("state", api.settings))
    api.server.wait_until(
        lambda: api.server.link_connected(api.client, "state.req"), "the state service", 60
    )
    return state_processes[-1]


@pytest.mark.parametrize(("method", "path", "body"), MUTATING)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc"])
def test_mutating_route_without_the_token_is_401(
    api: Api, method: str, path: str, body: object, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}

    response = api.client.request(method, path, json=body, headers=headers)

    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_kill_switch_goes_through_the_state_service_and_persists(
    api: Api, state_service: ServiceProcess
) -> None:
    on = api.client.post("/risk/kill-switch", json={"on": True, "reason": "test"}, headers=api.auth)
    limits_on = api.client.get("/risk/limits").json()
    off = api.client.post("/risk/kill-switch", json={"on": False}, headers=api.auth)

    assert on.status_code == 200, on.text
    assert on.json()["result"]["kill_switch"] is True
    assert on.json()["result"]["persisted"] is True
    assert limits_on["kill_switch"] is True
    assert off.json()["result"]["kill_switch"] is False
    assert api.client.get("/risk/limits").json()["kill_switch"] is False


def test_risk_limit_change_is_validated_by_the_state_service(
    api: Api, state_service: ServiceProcess
) -> None:
    changed = api.client.put(
        "/risk/limits", json={"name": "max_order_notional", "value": "250.5"}, headers=api.auth
    )
    refused = api.client.put(
        "/risk/limits", json={"name": "max_open_orders", "value": -1}, headers=api.auth
    )
    unknown = api.client.put("/risk/limits", json={"name": "nope", "value": 1}, headers=api.auth)

    assert changed.status_code == 200
    assert changed.json()["result"]["value"] == "250.5"
    assert api.client.get("/risk/limits").json()["max_order_notional"] == "250.5"
    assert refused.status_code == 400
    assert "max_open_orders" in refused.json()["detail"]
    assert unknown.status_code == 422
    assert "name" in unknown.json()["detail"]


def test_strategy_modes_and_cancel_all(api: Api, state_service: ServiceProcess) -> None:
    shadow = api.client.post("/strategies/arb-1/shadow", headers=api.auth)
    listed = api.client.get("/strategies/arb-1").json()
    disabled = api.client.post("/strategies/arb-1/disable", headers=api.auth)
    enabled = api.client.post("/strategies/arb-1/enable", headers=api.auth)
    unknown = api.client.post("/strategies/ghost/enable", headers=api.auth)
    cancel_all = api.client.post(
        "/orders/cancel-all", json={"market_id": MARKET_ID}, headers=api.auth
    )

    assert shadow.json()["result"]["mode"] == "shadow"
    assert listed["mode"] == "shadow"
    assert disabled.json()["result"]["mode"] == "disabled"
    assert enabled.json()["result"]["mode"] == "live"
    assert api.client.get("/strategies/arb-1").json()["mode"] == "live"
    assert unknown.status_code == 400
    assert "ghost" in unknown.json()["detail"]
    assert cancel_all.status_code == 200
    assert cancel_all.json()["result"]["scope"] == {"market_id": MARKET_ID}


def test_balances_come_from_the_state_service(api: Api, state_service: ServiceProcess) -> None:
    response = api.client.get("/balances")

    assert response.status_code == 200
    assert response.json() == {"balances": None, "as_of_ms": 0}


def test_strategy_config_is_validated_and_versioned(api: Api) -> None:
    created = api.client.put(
        "/strategies/arb-2",
        json={"strategy_class": "arbitrage", "config": {"min_edge": "0.01"}},
        headers=api.auth,
    )
    typo = api.client.put(
        "/strategies/arb-2",
        json={"strategy_class": "arbitrage", "config": {"min_egde": "0.01"}},
        headers=api.auth,
    )
    bad_class = api.client.put(
        "/strategies/arb-2", json={"strategy_class": "os:system"}, headers=api.auth
    )
    listed = api.client.get("/strategies/arb-2").json()

    assert created.status_code == 200, created.text
    assert created.json()["strategy_class"] == "polybot.strategies.arbitrage:Arbitrage"
    assert created.json()["state"] == "UNKNOWN"  # no runner here: the documented fallback
    assert listed["config"]["min_edge"] == "0.01"
    assert typo.status_code == 422
    assert "did you mean 'min_edge'" in typo.json()["detail"]
    assert bad_class.status_code == 422
    assert "polybot.strategies" in bad_class.json()["detail"]


def test_wallet_crud(api: Api) -> None:
    address = "0x" + "Ab" * 20
    created = api.client.post(
        "/wallets",
        json={"address": address, "label": "whale", "is_default": True},
        headers=api.auth,
    )
    duplicate = api.client.post("/wallets", json={"address": address.lower()}, headers=api.auth)
    invalid = api.client.post("/wallets", json={"address": "0x12"}, headers=api.auth)
    wallet_id = created.json()["id"]
    patched = api.client.patch(f"/wallets/{wallet_id}", json={"label": "orca"}, headers=api.auth)
    listed = api.client.get("/wallets").json()
    deleted = api.client.delete(f"/wallets/{wallet_id}", headers=api.auth)
    gone = api.client.get(f"/wallets/{wallet_id}")

    assert created.status_code == 201
    assert created.json()["address"] == address.lower()
    assert duplicate.status_code == 409
    assert invalid.status_code == 422
    assert "address" in invalid.json()["detail"]
    assert patched.json()["label"] == "orca"
    assert [w["label"] for w in listed] == ["orca"]
    assert deleted.status_code == 204
    assert gone.status_code == 404


def test_bad_bodies_are_422(api: Api) -> None:
    not_json = api.client.post(
        "/orders", content=b"{", headers={**api.auth, "Content-Type": "application/json"}
    )
    extra = api.client.post("/risk/kill-switch", json={"on": True, "typo": 1}, headers=api.auth)
    price = api.client.post(
        "/orders",
        json={"market_id": "m", "token_id": "t", "action": "BUY_YES", "price": 1.5, "size": 1},
        headers=api.auth,
    )

    assert not_json.status_code == extra.status_code == price.status_code == 422
    assert "price" in price.json()["detail"]
    assert "typo" in extra.json()["detail"]


ORDER = {"market_id": MARKET_ID, "token_id": YES, "action": "BUY_YES", "price": 0.45, "size": 10}


def test_place_order_without_executor_is_503(api: Api) -> None:
    response = api.client.post("/orders", json=ORDER, headers=api.auth)

    assert response.status_code == 503
    assert response.json() == {"detail": "the executor is not running (signals.push has no peer)"}


def test_place_order_maps_each_executor_fate_and_times_out_on_silence(api: Api) -> None:
    # The real executor's fates (placing, resting, filling, cancelling, shadowing) are covered
    # against the whole stack in test_stack_contract.py; this peer adds what a real executor
    # cannot be made to do on demand: take a signal and never answer (504).
    with ExecutorPeer(api.settings) as executor:
        api.server.wait_until(
            lambda: (
                api.server.link_connected(api.client, "signals.push")
                and api.server.link_connected(api.client, "events.pub")
            ),
            "the executor peer",
        )
        accepted = api.client.post("/orders", json={**ORDER, "signal_id": "s-1"}, headers=api.auth)
        rejected = api.client.post("/orders", json={**ORDER, "price": 0.95}, headers=api.auth)
        shadowed = api.client.post(
            "/orders", json={**ORDER, "strategy": "shadow-1"}, headers=api.auth
        )
        cancelled = api.client.delete("/orders/coid-0", headers=api.auth)
        final = api.client.delete("/orders/coid-1", headers=api.auth)
        executor.silent = True
        unanswered = api.client.post("/orders", json=ORDER, headers=api.auth)

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["outcome"] == "accepted"
    assert accepted.json()["accepted"] is True
    assert accepted.json()["signal_id"] == "s-1"
    assert accepted.json()["fate"] == "signal_accepted"
    assert accepted.json()["reason"] == ""
    assert (rejected.json()["outcome"], rejected.json()["accepted"]) == ("rejected", False)
    assert rejected.json()["reason"] == "max_order_notional: order notional above the limit"
    assert (shadowed.json()["outcome"], shadowed.json()["accepted"]) == ("shadowed", False)
    assert "not sent to the venue" in shadowed.json()["reason"]
    sent = executor.received[0]
    assert (sent.strategy, sent.price, sent.size) == ("manual", 0.45, 10.0)  # type: ignore[union-attr]
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["applied"] is True
    assert final.status_code == 409
    assert unanswered.status_code == 504
    assert "GET /orders" in unanswered.json()["detail"]
