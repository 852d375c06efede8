"""The asyncio path inside a real Jupyter kernel (nbclient), fed by a publisher process."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from peers import Peer, ipc_address

pytestmark = pytest.mark.slow


def test_async_subscriber_runs_on_the_kernel_loop_and_survives_a_blocking_cell(
    tmp_path: Path,
) -> None:
    address = ipc_address(tmp_path, "prices.pub")
    cells = [
        # Created in a cell, so it registers on the kernel's own running loop.
        "import asyncio, json, time\n"
        "from polybot.bus.aio import AsyncSubscriber\n"
        f"sub = AsyncSubscriber({address!r})\n"
        "got = []\n"
        "async def consume():\n"
        "    async for message in sub:\n"
        "        got.append(message.seq)\n"
        "task = asyncio.ensure_future(consume())",
        "await sub.wait_for_peers(1, timeout=60)",
        # A blocking cell: nothing is read meanwhile, NNG's 8192-deep buffer holds the stream.
        "time.sleep(1.5)",
        "deadline = time.monotonic() + 60\n"
        "while len(got) < 3000 and time.monotonic() < deadline:\n"
        "    await asyncio.sleep(0.05)\n"
        "print(json.dumps({'seqs_ok': got == list(range(1, 3001)), 'n': len(got),\n"
        "                  'gaps': sub.stats.gaps, 'loop': type(asyncio.get_running_loop()).__name__}))\n"
        "sub.close()\n"
        "await asyncio.wait_for(task, 10)",
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(Path(__file__).resolve().parents[2])}},
    )
    with Peer("pub", address, "--count", "3000", "--rate", "2000") as peer:
        client.execute()
        peer.wait_for("done")
    output = notebook.cells[-1].outputs[0]["text"]
    result = json.loads(output)
    assert result["seqs_ok"], result
    assert (result["n"], result["gaps"]) == (3000, 0)
    assert "EventLoop" in result["loop"]  # the kernel's own loop ran the reader
