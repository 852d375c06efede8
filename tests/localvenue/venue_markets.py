"""Market lookups shared by the local venue's server tests."""

from __future__ import annotations

from typing import Any

import httpx


def protocol_v1_markets(http: httpx.Client, *, binary_only: bool = False) -> list[dict[str, Any]]:
    """Return CLOB market objects of protocol-v1 markets (v2 ones sign for ExchangeV3)."""
    v1 = {
        m["conditionId"]
        for m in http.get("/gamma/markets", params={"limit": 500, "version": "v1"}).json()
    }
    return [
        m
        for m in http.get("/markets").json()["data"]
        if m["condition_id"] in v1 and not (binary_only and m["neg_risk"])
    ]
