"""The frontend's committed API contract matches the Python code.

``frontend/openapi.json`` and ``frontend/ws-messages.schema.json`` are the inputs of the
TypeScript generators (``npm run gen``); ``frontend/src/api/sources.json`` records the sha256 of
the inputs ``src/api`` was generated from. A route or model change without re-running
``scripts/export_openapi.py`` and ``npm run gen`` fails here, naming the command to run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"


def _exporter() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "export_openapi", REPO / "scripts" / "export_openapi.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_schemas_match_the_app_and_bus_messages() -> None:
    exporter = _exporter()
    expected = exporter.expected_files()
    stale = [
        path.relative_to(REPO).as_posix()
        for path, text in expected.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], (
        f"{stale} drifted from the code: run `.venv/bin/python scripts/export_openapi.py` then `cd frontend && npm run gen`"
    )


def test_openapi_covers_every_route_the_ui_calls() -> None:
    schema = json.loads((FRONTEND / "openapi.json").read_text(encoding="utf-8"))
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    used = {
        "listMarkets", "getMarket", "getBook", "getPriceHistory", "listOrders", "placeOrder",
        "cancelOrder", "cancelAllOrders", "listPositions", "getPnl", "getBalances", "listStrategies",
        "putStrategy", "enableStrategy", "disableStrategy", "setShadow", "listLogs", "listRuns",
        "getSummary", "getPnlByDay", "getOhlc", "getCorrelations", "getRiskState", "setLimit",
        "setKillSwitch", "getHealth", "getSettings",
    }  # fmt: skip
    # operationIds are the route functions' names; the generator camel-cases them.
    camel = {
        "".join(w.capitalize() if i else w for i, w in enumerate(o.split("_"))) for o in operations
    }
    assert used - camel == set(), "the UI calls operations the API no longer has"
    sdk = (FRONTEND / "src" / "api" / "rest" / "sdk.gen.ts").read_text(encoding="utf-8")
    assert all(f"export const {name} =" in sdk for name in used)


def test_generated_client_was_made_from_the_committed_schemas() -> None:
    stamp = json.loads((FRONTEND / "src" / "api" / "sources.json").read_text(encoding="utf-8"))
    actual = {
        name: hashlib.sha256((FRONTEND / name).read_bytes()).hexdigest()
        for name in ("openapi.json", "ws-messages.schema.json")
    }
    assert stamp == actual, (
        "src/api is older than the schema files: run `cd frontend && npm run gen`"
    )
