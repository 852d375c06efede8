"""What a live feed knows, as displayable values, and how it catches up from the scanner.

``FeedStatus`` and ``BookState`` are snapshots that render themselves. ``SnapshotSource`` asks the
scanner's snapshot endpoint (``bus.snapshots_req``; ``polybot.marketdata.snapshots``) for the
current top of book and full books: prices are published only when they change, so a feed that
just connected would otherwise show nothing for quiet markets, and after a sequence gap the
books must be replaced rather than patched.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from polybot.bus.endpoints import Requester
from polybot.bus.messages import BookSnapshot, Price
from polybot.core.errors import BusError
from polybot.marketdata.snapshots import PRICES_COMMAND, request_books
from polybot.notebook.display import AMBER, GREEN, GREY, RED, Markup, badge, book_html, key_values


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """How the subscription is doing: counts, rate, gaps and how old the newest message is."""

    address: str
    state: str  # "waiting" (nothing yet), "live", "stale" (quiet too long), "closed"
    received: int
    rate_per_s: float
    age_s: float | None
    gaps: int
    missed: int
    resets: int
    malformed: int
    tokens: int
    suspect_books: int
    gap_detection: bool

    def __repr__(self) -> str:
        age = "—" if self.age_s is None else f"{self.age_s:.1f}s"
        return (
            f"feed {self.state}: {self.received:,} msgs, {self.rate_per_s:,.0f}/s, age {age}, "
            f"gaps {self.gaps} (missed {self.missed:,}), tokens {self.tokens}"
        )

    def _repr_html_(self) -> str:
        color = {"live": GREEN, "stale": AMBER, "waiting": GREY}.get(self.state, RED)
        gaps = f"{self.gaps} ({self.missed:,} missed)" if self.gap_detection else "not tracked"
        items: list[tuple[str, object]] = [
            ("state", Markup(badge(self.state, color))),
            ("messages", self.received),
            ("rate", f"{self.rate_per_s:,.0f}/s"),
            ("last message", "—" if self.age_s is None else f"{self.age_s:.1f} s ago"),
            ("gaps", Markup(badge(gaps, RED)) if self.gaps else gaps),
            ("tokens", self.tokens),
        ]
        if self.suspect_books:
            items.append(("books resyncing", self.suspect_books))
        return f"<div class='pb-health'>{key_values('feed ' + self.address, items)}</div>"


@dataclass(frozen=True, slots=True)
class BookState:
    """One token's book at one moment (best first on each side)."""

    token_id: str
    label: str
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    timestamp_ms: int
    suspect: bool = False

    @property
    def mid(self) -> float | None:
        """Return the mid of the best bid and ask (None when one side is empty)."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2

    def _repr_html_(self) -> str:
        status = badge("resyncing", AMBER) if self.suspect else ""
        return book_html(self.label, self.bids, self.asks, status=status)


class SnapshotSource:
    """A REQ client of the scanner's snapshot endpoint (quietly empty when it is not there)."""

    def __init__(self, address: str, timeout: float = 3.0) -> None:
        self.address = address
        self.timeout = timeout
        self._requester: Requester | None = None
        self.failures = 0

    def _client(self) -> Requester:
        if self._requester is None:
            self._requester = Requester(self.address)
        return self._requester

    def prices(self) -> list[Price]:
        """Return the last top of book of every token ([] when the scanner does not answer)."""
        try:
            response = self._client().call(PRICES_COMMAND, {}, timeout=self.timeout)
        except BusError:
            self.failures += 1
            return []
        if not response.ok:
            self.failures += 1
            return []
        raw = response.result.get("prices", []) if isinstance(response.result, dict) else []
        return msgspec.convert(raw, list[Price])

    def books(
        self, *, token_ids: list[str] | None = None, market_ids: list[str] | None = None
    ) -> list[BookSnapshot]:
        """Return current full books (all, or of some tokens/markets; [] on silence)."""
        try:
            answer = request_books(
                self._client(),
                token_ids=token_ids or (),
                market_ids=market_ids or (),
                timeout=self.timeout,
            )
        except BusError:
            self.failures += 1
            return []
        return answer.books

    def close(self) -> None:
        """Close the socket."""
        if self._requester is not None:
            self._requester.close()
            self._requester = None
