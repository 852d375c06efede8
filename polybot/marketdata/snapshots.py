"""Book snapshots over REQ/REP (``bus.snapshots_req``) for subscribers that detected a gap.

A subscriber that sees a sequence gap (or a publisher restart) on ``prices.pub`` asks the scanner
for the current books and continues from there. The answer carries the publisher's ``seq`` at the
moment the books were read; both happen on the scanner's event loop, so every price-bus message
with a higher ``seq`` applies on top of these books and every one at or below is already in them.

Commands (``Command.command``; all read-only, so a re-sent request is harmless):

* ``book.snapshot`` — args ``token_ids`` and/or ``market_ids`` (both empty: every token):
  ``{"seq", "books": [book...], "missing": [token ids without a usable book]}``.
* ``book.prices`` — ``{"seq", "prices": [price...]}``: the last top of book of every token.
* ``feed.health`` — ``{"seq", "health": [feed_health...]}``.
* ``feed.universe`` — ``{"seq", "markets": {market_id: [token ids]}}``.

Books, prices and health entries are the bus messages themselves as maps (``type`` included).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from polybot.bus.endpoints import Requester
from polybot.bus.messages import BookSnapshot, Command, Response
from polybot.core.clock import wall_ms
from polybot.core.errors import BusError
from polybot.marketdata.feed import MarketFeed

SNAPSHOT_COMMAND = "book.snapshot"
PRICES_COMMAND = "book.prices"
HEALTH_COMMAND = "feed.health"
UNIVERSE_COMMAND = "feed.universe"


@dataclass(frozen=True, slots=True)
class BookSnapshots:
    """A snapshot answer: the books, the tokens without a usable book, and the bus position."""

    seq: int
    books: list[BookSnapshot]
    missing: list[str]


class SnapshotHandler:
    """Answer snapshot commands from a feed (serve it with ``Replier(address, handler)``)."""

    def __init__(
        self,
        feed: MarketFeed,
        *,
        markets: Callable[[], dict[str, list[str]]] | None = None,
    ) -> None:
        self.feed = feed
        self._markets = markets or (dict)
        self.answered = 0

    def __call__(self, command: Command) -> Response:
        """Return the response to one command."""
        seq = self.feed.publisher.seq
        args = command.args
        result: dict[str, Any]
        if command.command == SNAPSHOT_COMMAND:
            tokens = self._wanted(args)
            books, missing = self.feed.snapshots(tokens)
            result = {"seq": seq, "books": books, "missing": missing}
        elif command.command == PRICES_COMMAND:
            result = {"seq": seq, "prices": list(self.feed.latest.values())}
        elif command.command == HEALTH_COMMAND:
            result = {"seq": seq, "health": self.feed.health()}
        elif command.command == UNIVERSE_COMMAND:
            result = {"seq": seq, "markets": self._markets()}
        else:
            known = ", ".join((SNAPSHOT_COMMAND, PRICES_COMMAND, HEALTH_COMMAND, UNIVERSE_COMMAND))
            return Response(
                request_id=command.request_id,
                ok=False,
                error=f"unknown command {command.command!r} (this endpoint answers {known})",
                timestamp=wall_ms(),
            )
        self.answered += 1
        # Structs become plain maps here so the Response encodes the same in any reader.
        return Response(
            request_id=command.request_id,
            ok=True,
            result=msgspec.to_builtins(result),
            timestamp=wall_ms(),
        )

    def _wanted(self, args: dict[str, Any]) -> list[str] | None:
        tokens = [str(t) for t in args.get("token_ids") or ()]
        market_ids = {str(m) for m in args.get("market_ids") or ()}
        if market_ids:
            markets = self._markets()
            tokens += [t for m in market_ids for t in markets.get(m, ())]
        if not tokens and not market_ids:
            return None
        return list(dict.fromkeys(tokens))


def request_books(
    requester: Requester,
    *,
    token_ids: Sequence[str] = (),
    market_ids: Sequence[str] = (),
    timeout: float = 5.0,
) -> BookSnapshots:
    """Ask the scanner for books (every token when both filters are empty).

    Raises ``BusTimeout`` when the scanner does not answer and ``BusError`` when it refuses.
    """
    response = requester.call(
        SNAPSHOT_COMMAND,
        {"token_ids": list(token_ids), "market_ids": list(market_ids)},
        timeout=timeout,
    )
    if not response.ok:
        raise BusError(f"the scanner refused the snapshot request: {response.error}")
    result = response.result
    return BookSnapshots(
        seq=int(result["seq"]),
        books=msgspec.convert(result["books"], list[BookSnapshot]),
        missing=[str(t) for t in result["missing"]],
    )
