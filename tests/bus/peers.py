"""Peer processes for the bus tests: run as a script (one role per process), import ``Peer``.

Every role prints ``ready`` once its socket is up (and its peers are connected, when asked to
wait), then ``done`` when finished, so tests synchronise on output instead of sleeping.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0  # a cold interpreter on a loaded 2-core box can take a while


def ipc_address(base: Path, name: str) -> str:
    """Return a unique ``ipc://`` address under ``base`` (a test's tmp_path)."""
    path = base / "ipc" / name
    # sun_path holds 107 bytes; fail clearly instead of letting NNG truncate or refuse.
    assert len(str(path)) < 100, f"ipc path too long for a unix socket: {path}"
    return f"ipc://{path}"


def price_frame(market: str, seq: int, token: str = "tok") -> str:
    """Return the hex of an encoded Price frame stamped with ``seq`` (for the frames role)."""
    from polybot.bus import codec

    return codec.encode(codec.with_seq(_price(market, token, seq), seq)).hex()


class Peer:
    """A peer process running one role of this script; killed on exit from ``with``."""

    def __init__(self, role: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), role, *args],
            cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._pending = b""

    def wait_for(self, word: str, timeout: float = STARTUP_TIMEOUT) -> str:
        """Return the first stdout line starting with ``word``; fail with stderr if it never comes."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while True:
            for line in self.lines:
                if line.startswith(word):
                    self.lines.remove(line)
                    return line
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"peer never printed {word!r}; stderr:\n{self.stderr()}")
            fd = self.proc.stdout.fileno()
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
            if ready:
                # os.read, not readline: a buffered reader could swallow several lines at once
                # and leave select() waiting on an empty pipe.
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"peer exited before {word!r}; stderr:\n{self.stderr()}")
                self._pending += chunk
                *complete, self._pending = self._pending.split(b"\n")
                self.lines.extend(line.decode().strip() for line in complete)

    def send(self, line: str) -> None:
        """Write one line to the peer's stdin (roles that wait for a go-ahead read it)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stderr(self) -> str:
        """Return the peer's stderr (kills it first if it is still running)."""
        self.kill()
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` and reap the process."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=STARTUP_TIMEOUT)

    def __enter__(self) -> Peer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


# ------------------------------------------------------------------------------------------
# Roles (run in the peer process)


def _say(word: str, **data: Any) -> None:
    print(word, json.dumps(data) if data else "", flush=True)


def _price(market: str, token: str, i: int) -> Any:
    from polybot.bus.messages import Price

    bid = (i % 90) / 100
    return Price(
        market_id=market, token_id=token, bid=bid, ask=bid + 0.01, mid=bid + 0.005,
        timestamp=1_700_000_000_000 + i,
    )


def role_pub(args: argparse.Namespace) -> None:
    """Publish ``count`` prices (0: forever) round-robin over ``markets``, ``interval`` apart."""
    from polybot.bus.nng import Publisher

    pub = Publisher(args.address)
    _say("listening")
    pub.wait_for_peers(args.subs, timeout=STARTUP_TIMEOUT)
    time.sleep(0.05)  # the subscriber's side of the pipe settles just after ours
    _say("ready")
    markets = args.markets.split(",")
    per_tick = max(int(args.rate / 1000), 1)  # --rate: send in 1 ms ticks (sleep is too coarse)
    start = time.monotonic()
    i = 0
    while args.count == 0 or i < args.count:
        pub.publish(_price(markets[i % len(markets)], args.token, i))
        i += 1
        if i == args.go_after:
            _say("waiting")
            sys.stdin.readline()  # the test has read the first messages; now the burst
        if args.interval:
            time.sleep(args.interval)
        elif args.rate and i % per_tick == 0:
            ahead = start + i / args.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    _say("done", sent=i, seq=pub.seq)
    time.sleep(args.hold)
    pub.close()


def role_frames(args: argparse.Namespace) -> None:
    """Publish the given hex frames verbatim, in order (malformed-frame and forced-gap tests)."""
    from polybot.bus.nng import Publisher

    pub = Publisher(args.address)
    pub.wait_for_peers(args.subs, timeout=STARTUP_TIMEOUT)
    time.sleep(0.05)
    _say("ready")
    for frame in args.frames:
        pub.publish_frame(bytes.fromhex(frame))
    _say("done")
    time.sleep(args.hold)
    pub.close()


def role_listen(args: argparse.Namespace) -> None:
    """Listen with a ``kind`` socket and idle until killed (ipc-file and address-in-use tests)."""
    from polybot.bus.endpoints import Replier
    from polybot.bus.nng import Publisher, Puller

    kinds: dict[str, Any] = {"pub": Publisher, "pull": Puller, "rep": Replier}
    endpoint = kinds[args.kind](args.address)
    _say("ready", pid=os.getpid())
    time.sleep(args.hold)
    endpoint.close()


def role_push(args: argparse.Namespace) -> None:
    """Push ``count`` signals as fast as possible, then close with the default linger."""
    from polybot.bus.messages import Signal
    from polybot.bus.nng import Pusher

    push = Pusher(args.address)
    _say("ready")
    for i in range(args.count):
        push.send(
            Signal(
                strategy="test", market_id="0xm", action="BUY_YES", token_id="t", price=0.5,
                size=1.0, signal_id=f"s{i}",
            ),
            timeout=30.0,
        )
    push.close()
    _say("done", sent=args.count)


def role_request(args: argparse.Namespace) -> None:
    """Send one command per id in ``ids`` (repeats allowed) and print each response as JSON."""
    from polybot.bus import codec
    from polybot.bus.endpoints import Requester
    from polybot.bus.messages import Command

    req = Requester(args.address, resend_time=args.resend)
    _say("ready")
    for request_id in args.ids:
        response = req.request(
            Command(request_id=request_id, command=args.command), timeout=args.timeout
        )
        _say("response", **codec.to_dict(response))
    req.close()
    _say("done")


def main() -> None:
    """Parse the role and its options and run it."""
    parser = argparse.ArgumentParser()
    roles = parser.add_subparsers(dest="role", required=True)
    pub = roles.add_parser("pub")
    pub.add_argument("address")
    pub.add_argument("--count", type=int, default=100)
    pub.add_argument("--interval", type=float, default=0.0)
    pub.add_argument("--rate", type=float, default=0.0)
    pub.add_argument("--go-after", type=int, default=0)
    pub.add_argument("--markets", default="0xa")
    pub.add_argument("--token", default="tok")
    pub.add_argument("--subs", type=int, default=1)
    pub.add_argument("--hold", type=float, default=30.0)
    pub.set_defaults(run=role_pub)
    frames = roles.add_parser("frames")
    frames.add_argument("address")
    frames.add_argument("frames", nargs="+")
    frames.add_argument("--subs", type=int, default=1)
    frames.add_argument("--hold", type=float, default=30.0)
    frames.set_defaults(run=role_frames)
    listen = roles.add_parser("listen")
    listen.add_argument("address")
    listen.add_argument("--kind", choices=["pub", "pull", "rep"], default="pub")
    listen.add_argument("--hold", type=float, default=120.0)
    listen.set_defaults(run=role_listen)
    push = roles.add_parser("push")
    push.add_argument("address")
    push.add_argument("--count", type=int, default=100)
    push.set_defaults(run=role_push)
    request = roles.add_parser("request")
    request.add_argument("address")
    request.add_argument("ids", nargs="+")
    request.add_argument("--command", default="work")
    request.add_argument("--resend", type=float, default=1.0)
    request.add_argument("--timeout", type=float, default=30.0)
    request.set_defaults(run=role_request)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
