"""The Workbench in a real kernel against a real stack: fates, kill switch, SQL while writing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import nbformat
import pytest
from nbclient import NotebookClient
from stack_helpers import REPO_ROOT, NotebookStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stack() -> Iterator[NotebookStack]:
    """Run a stack for this module; its env is exported while it runs, so kernels inherit it."""
    with NotebookStack() as running:
        yield running


def run(cells: list[str]) -> dict[str, object]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    ).execute()
    return json.loads(notebook.cells[-1].outputs[0]["text"])


def test_signals_from_a_kernel_come_back_with_their_fate(stack: NotebookStack) -> None:
    result = run(
        [
            "import json, time\n"
            "from polybot.notebook import connect\n"
            "pb = connect()\n"
            "feed = pb.watch()\n"
            "m = pb.markets().df.iloc[0]\n"
            "feed.wait_for(lambda f: f.book(m.yes_token_id).asks, timeout=30)",
            "ok = pb.buy(m.yes_token_id, 5, feed.book(m.yes_token_id).asks[0][0])\n"
            "big = pb.buy(m.yes_token_id, 100_000, 0.5)",
            "pb.kill_switch(True, reason='test')\n"
            "halted = pb.buy(m.yes_token_id, 5, 0.5)\n"
            "risk_on = pb.risk().kill_switch\n"
            "pb.kill_switch(False)\n"
            "after = pb.buy(m.yes_token_id, 5, 0.01)",
            "print(json.dumps({'ok': ok.status, 'ok_order': bool(ok.order_id) or ok.status == 'accepted',\n"
            "  'big': [big.status, big.rule], 'halted': [halted.status, halted.rule],\n"
            "  'risk_on': risk_on, 'after': after.status, 'tickets': len(pb.tickets())}))",
        ]
    )
    assert result["ok"] in ("accepted", "partially_filled", "filled")
    assert result["big"] == ["rejected", "max_order_notional"]
    assert result["halted"] == ["rejected", "kill_switch"]
    assert result["risk_on"] is True
    assert result["after"] == "accepted"
    assert result["tickets"] == 4


def test_sql_reads_history_while_the_analytics_service_writes(stack: NotebookStack) -> None:
    result = run(
        [
            "import json, time\n"
            "from polybot.notebook import connect\n"
            "pb = connect()\n"
            "first = int(pb.sql('SELECT count(*) AS n FROM price_history').n[0])\n"
            "deadline = time.monotonic() + 60\n"
            "later = first\n"
            "while later <= first and time.monotonic() < deadline:\n"
            "    time.sleep(0.5)\n"
            "    later = int(pb.sql('SELECT count(*) AS n FROM price_history').n[0])\n"
            "token = pb.sql('SELECT token_id FROM price_history GROUP BY 1 ORDER BY count(*) DESC LIMIT 1').token_id[0]\n"
            "bars = pb.ohlc(token, '10s')\n"
            "try:\n"
            "    pb.sql('DELETE FROM price_history')\n"
            "    refused = ''\n"
            "except Exception as exc:\n"
            "    refused = type(exc).__name__",
            "print(json.dumps({'first': first, 'later': later, 'bars': len(bars),\n"
            "  'ohlc_ok': bool((bars.df.low <= bars.df.high).all()), 'refused': refused}))",
        ]
    )
    assert result["later"] > result["first"]  # the service kept writing; we kept reading
    assert result["bars"] >= 1
    assert result["ohlc_ok"]
    assert result["refused"] == "RemoteQueryError"  # the read path is read-only
