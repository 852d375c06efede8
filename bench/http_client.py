"""CPU per request of the venue REST transport: PolyBot's ``HttpClient`` (aiohttp) next to a bare
httpx ``AsyncClient`` and a raw asyncio HTTP/1.1 exchange, all in the same run, against one
loopback server in a child process (so only the client's CPU is counted).

The request is shaped like ``POST /order`` (a ~1 KB JSON body, keep-alive, a 400 answer like a
killed FOK order); ``HttpClient`` runs with its rate limiter and breaker, i.e. exactly what the
executor pays per order. Ratios are against the raw exchange (the floor for Python on asyncio).

Usage: ``python bench/http_client.py [--requests N]``; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

BODY = json.dumps({"order": {"salt": 1, "maker": "0x" + "ab" * 20, "pad": "x" * 900}}).encode()
ANSWER = b'{"success":false,"errorMsg":"order couldn\'t be fully filled"}'


def _serve(port: int) -> None:
    """The child: a minimal HTTP/1.1 keep-alive server answering every request with a 400."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
            )
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _cpu_per_call(call: Callable[[], Awaitable[object]], count: int) -> float:
    """Return the client thread's CPU µs per ``call`` (after a warm-up)."""
    for _ in range(50):
        await call()
    started = time.thread_time()
    for _ in range(count):
        await call()
    return (time.thread_time() - started) / count * 1e6


async def measure(port: int, count: int) -> dict[str, float]:
    """Return CPU µs per request for each client."""
    import httpx

    from polybot.core.errors import VenueError
    from polybot.venues.polymarket.http import HttpClient

    base = f"http://127.0.0.1:{port}"
    headers = {"Content-Type": "application/json", "POLY_API_KEY": "k"}
    out: dict[str, float] = {}

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        b"POST /order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
    )

    async def raw() -> None:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)

    out["raw_asyncio"] = await _cpu_per_call(raw, count)
    writer.close()

    async with httpx.AsyncClient(base_url=base) as bare:

        async def with_httpx() -> None:
            await bare.post("/order", content=BODY, headers=headers)

        out["httpx"] = await _cpu_per_call(with_httpx, count)

    async with HttpClient(base, "clob") as client:

        async def with_http_client() -> None:
            with contextlib.suppress(VenueError):  # the 400 a killed FOK order gets
                await client.send(
                    "POST", "/order", body=BODY, headers={"POLY_API_KEY": "k"}, order_endpoint=True
                )

        out["polybot_http_client"] = await _cpu_per_call(with_http_client, count)
    return out


def main() -> int:
    """Run the benchmark; print a summary and, last, one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--role", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        _serve(args.port)
        return 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--role", "server", "--port", str(port)]
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        result = asyncio.run(measure(port, args.requests))
    finally:
        server.terminate()
        server.wait(10)
    base = result["raw_asyncio"]
    for name, cpu in result.items():
        print(f"{name:<22} {cpu:8.1f} µs CPU per request  ({cpu / base:.1f}× raw asyncio)")
    print(json.dumps({"bench": "http_client", "cpu_us_per_request": result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
