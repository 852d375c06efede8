"""``tap``: live traffic printed one line per message, filtered by NNG prefix where possible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from peers import Peer, ipc_address, price_frame

from polybot.bus import codec
from polybot.bus.messages import Heartbeat, Price, Signal, Trade
from polybot.bus.tap import subscription_plan, tap

WAIT = 30.0


def frames() -> list[str]:
    """Non-matching traffic first, so a broken filter would print it before the matches."""
    trade = Trade(market_id="0xa", token_id="t", price=0.5, size=2.0, side="BUY", timestamp=5)
    beat = Heartbeat(service="scanner", pid=7, status="ok", uptime_s=1.0, timestamp=5)
    return [
        price_frame("0xb", 1), price_frame("0xb", 2), codec.encode(beat).hex(),
        "c1", codec.encode(trade).hex(), price_frame("0xa", 3), price_frame("0xa", 4),
    ]


def run_tap(address: str, **kwargs: object) -> list[str]:
    """Run tap against a frames peer and return the printed lines."""
    lines: list[str] = []
    with Peer("frames", address, *frames()):
        tap(address, out=lines.append, timeout=WAIT, **kwargs)  # type: ignore[arg-type]
    return lines


def payloads(lines: list[str]) -> list[dict[str, object]]:
    """Return the JSON part of message lines."""
    return [json.loads(line.split(" ", 2)[2]) for line in lines if " {" in line]


def test_type_and_market_filter_prints_only_matching_messages(tmp_path: Path) -> None:
    lines = run_tap(ipc_address(tmp_path, "prices.pub"), types=["price"], market="0xa", limit=2)
    got = payloads(lines)
    assert [(m["type"], m["market_id"], m["seq"]) for m in got] == [
        ("price", "0xa", 3), ("price", "0xa", 4)
    ]
    assert all(line.split(" ")[1] == "prices.pub" for line in lines)


def test_market_filter_covers_every_market_data_type(tmp_path: Path) -> None:
    lines = run_tap(ipc_address(tmp_path, "prices.pub"), market="0xa", limit=3)
    assert [m["type"] for m in payloads(lines)] == ["trade", "price", "price"]


def test_unfiltered_tap_shows_everything_including_malformed_frames(tmp_path: Path) -> None:
    lines = run_tap(ipc_address(tmp_path, "prices.pub"), limit=6)
    assert [m["type"] for m in payloads(lines)] == [
        "price", "price", "heartbeat", "trade", "price", "price"
    ]
    assert sum("!malformed" in line for line in lines) == 1


def test_tap_stops_at_its_timeout_when_nothing_comes(tmp_path: Path) -> None:
    lines: list[str] = []
    assert tap(ipc_address(tmp_path, "quiet.pub"), timeout=0.2, out=lines.append) == 0
    assert lines == []


def signal_for(market: str) -> Signal:
    """Return a signal for ``market``."""
    return Signal(
        strategy="s", market_id=market, action="BUY_YES", token_id="t", price=0.5, size=1.0
    )


def test_subscription_plan_uses_prefixes_and_python_only_where_needed() -> None:
    prefixes, keep = subscription_plan(["price"], "0xa")
    assert prefixes == [codec.subscription_prefix(Price, "0xa")]
    assert keep is None
    prefixes, keep = subscription_plan(["signal"], "0xa")  # market_id is not signal's first field
    assert prefixes == [codec.subscription_prefix(Signal)]
    assert keep is not None
    assert keep(signal_for("0xa"))
    assert not keep(signal_for("0xb"))
    with pytest.raises(ValueError, match="unknown message type"):
        subscription_plan(["prices"], None)
    with pytest.raises(ValueError, match="no market_id"):
        subscription_plan(["heartbeat"], "0xa")
