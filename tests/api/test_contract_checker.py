"""The contract checker of test_stack_contract.py catches what it claims to (no stack needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from api_contract import Contract, ContractViolation
from fastapi import FastAPI

from polybot.config.settings import Settings
from services.api.app import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(data_dir=Path(tmp_path_factory.mktemp("contract"))))


@pytest.fixture
def contract(app: FastAPI) -> Contract:
    return Contract(app.openapi(), app)


def answer(
    method: str, path: str, status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request(method, f"http://api.test{path}")
    if body is None:
        return httpx.Response(status, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_checker_accepts_a_conforming_answer_and_records_it(contract: Contract) -> None:
    contract.check(answer("GET", "/health/live", 200, {"status": "alive"}))
    contract.check(answer("DELETE", "/wallets/3", 204))
    contract.check(answer("GET", "/openapi.json", 200, {}))  # not an operation: ignored

    assert contract.seen["get_live"][200] == 1
    assert contract.seen["delete_wallet"][204] == 1


def test_checker_matches_fixed_paths_before_templates(contract: Contract) -> None:
    cancel_all = contract.match("POST", "/orders/cancel-all")
    cancel_one = contract.match("DELETE", "/orders/cancel-all")
    assert cancel_all is not None
    assert cancel_one is not None
    assert (cancel_all.operation_id, cancel_one.operation_id) == (
        "cancel_all_orders",
        "cancel_order",
    )
    assert contract.match("GET", "/strategies/x/runs").operation_id == "list_runs"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("response", "complaint"),
    [
        (answer("GET", "/health/live", 500, {"detail": "boom"}), "not declared"),
        (answer("GET", "/health/live", 200, {"status": "alive", "extra": 1}), "typed model"),
        (answer("GET", "/health/live", 200, {"status": "dead"}), "OpenAPI schema"),
        (answer("GET", "/markets/m", 404, {"detail": "no"}), "readable sentence"),
        (answer("GET", "/markets/m", 404, {"detail": "no such market", "x": 1}), "typed model"),
        (answer("GET", "/markets/m", 404, {"detail": ["a", "list"]}), "OpenAPI schema"),
        (answer("POST", "/risk/kill-switch", 401, {"detail": "the token is missing"}), "Bearer"),
        (answer("DELETE", "/wallets/3", 204, {"detail": "a body"}), "204"),
    ],
)
def test_checker_refuses_a_broken_answer(
    contract: Contract, response: httpx.Response, complaint: str
) -> None:
    with pytest.raises(ContractViolation, match=complaint):
        contract.check(response)


def test_gaps_name_each_missing_success_token_refusal_and_bad_input(contract: Contract) -> None:
    contract.check(
        answer("POST", "/risk/kill-switch", 200, {"command": "kill_switch", "result": {}})
    )

    gaps = contract.gaps()

    assert "POST /risk/kill-switch (set_kill_switch): no successful call" not in gaps
    assert "POST /risk/kill-switch (set_kill_switch): no call without the token (401)" in gaps
    assert "POST /risk/kill-switch (set_kill_switch): no bad-input call (400/404/409/422)" in gaps
    assert "GET /health (get_health): no successful call" in gaps
