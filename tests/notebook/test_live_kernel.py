"""The notebook library inside a real Jupyter kernel, fed by real publisher processes.

A publisher process streams prices over ipc; cells in an nbclient kernel subscribe through
``LiveFeed`` (reading on the kernel's loop via ``add_reader``) and check that the stream is read
while other cells run, and that a cell blocking for seconds loses neither messages nor the
latest state of any token.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bus"))
from peers import Peer, ipc_address

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cells(cells: list[str]) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    client.execute()
    return notebook


def last_json(notebook: nbformat.NotebookNode) -> dict[str, object]:
    return json.loads(notebook.cells[-1].outputs[0]["text"])


def test_feed_reads_while_cells_run_and_a_blocking_cell_loses_nothing(tmp_path: Path) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    cells = [
        "import asyncio, json, time\n"
        "from polybot.notebook import LiveFeed\n"
        f"feed = LiveFeed({address!r}, refresh_s=0.2)\n"
        f"only_b = LiveFeed({address!r}, markets=['0xb'])  # a prefix subscription\n"
        "assert feed._reader.loop is not None  # registered on the kernel's own loop",
        "await asyncio.sleep(0)\n"
        "deadline = time.monotonic() + 60\n"
        "while not (feed._reader.connected and only_b._reader.connected)\\\n"
        "        and time.monotonic() < deadline:\n"
        "    await asyncio.sleep(0.01)",
        # A plain cell that awaits: the reader keeps running on the loop meanwhile.
        "start = feed.status.received\n"
        "deadline = time.monotonic() + 60\n"
        "while feed.status.received < 500 and time.monotonic() < deadline:\n"
        "    await asyncio.sleep(0.05)\n"
        "during = feed.status.received - start",
        # A cell that blocks for 2 s: nothing is read, NNG's buffer holds the stream.
        "before_block = feed.status.received\n"
        "time.sleep(2.0)\n"
        "blocked_read = feed.status.received - before_block",
        "deadline = time.monotonic() + 60\n"
        "while feed.status.received < 6000 and time.monotonic() < deadline:\n"
        "    await asyncio.sleep(0.05)\n"
        "s = feed.status\n"
        "latest = {t: p.seq for t, p in feed.prices.items()}\n"
        "b = only_b.status\n"
        "b_markets = sorted({p.market_id for p in only_b.prices.values()})\n"
        "print(json.dumps({'during': during, 'blocked_read': blocked_read, 'received': s.received,\n"
        "                  'gaps': s.gaps, 'missed': s.missed, 'latest': latest,\n"
        "                  'state': s.state, 'b_received': b.received, 'b_markets': b_markets}))\n"
        "feed.close()\n"
        "only_b.close()",
    ]
    # 6,000 prices round-robin over 3 markets at 1,500/s: the 2 s block queues ~3,000 frames.
    with Peer(
        "pub",
        address,
        "--count",
        "6000",
        "--rate",
        "1500",
        "--markets",
        "0xa,0xb,0xc",
        "--subs",
        "2",
    ) as peer:
        notebook = run_cells(cells)
        peer.wait_for("done")
    result = last_json(notebook)
    assert result["during"] > 0  # messages arrived while another cell was running
    assert result["blocked_read"] == 0  # the blocking cell really blocked the reader
    assert (result["received"], result["gaps"], result["missed"]) == (6000, 0, 0)
    # The latest state is the publisher's last message (every market shares one token here).
    assert result["latest"] == {"tok": 6000}
    # The prefix subscription got exactly market 0xb's third of the stream, filtered by NNG.
    assert (result["b_received"], result["b_markets"]) == (2000, ["0xb"])
    assert result["state"] == "live"
