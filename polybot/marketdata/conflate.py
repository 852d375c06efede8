"""Conflation of one venue frame's bus messages: the state a frame leaves, not every step to it.

One market-channel frame often carries dozens of book mutations at once: a maker re-quoting pulls
every level of a market and places new ones, and the venue sends the lot as one array. Every
mutation is applied to the local book and every hash is verified (``polybot.venues.polymarket``),
but the states *between* the mutations of one frame were never observable by anyone — they arrive
together — and some are misleading (a book with its quotes pulled and not yet replaced is
one-sided, so its mid jumps to 0.5 ± half the range). Publishing each of them costs a bus send in
the scanner and wakes every subscriber, and a strategy answering each would trade on them.

So per frame and per token the scanner publishes:

* **one ``book_delta``** holding the net change — for each ``(side, price)`` touched, its final
  absolute size (sizes are absolute, so applying the net changes to the previous book gives exactly
  the book after the frame); its ``timestamp``, ``best_bid``/``best_ask`` and ``hash`` are the last
  mutation's, so a consumer can still verify the result;
* **one ``price``**, the top after the frame, where the token's last price was (so it follows the
  token's delta) — and none when that top is the one last published.

Order is kept where it carries meaning: anything else about a token (a ``book`` snapshot, a trade
print, a tick-size change) closes that token's merge, so later mutations start a new delta after
it. Messages about no single token (resolutions, health) keep their place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from polybot.bus.messages import BookDelta, LevelChange, Message, Price


class _Merge:
    """The open delta of one token: its position in the output and its net changes."""

    __slots__ = ("changes", "index", "last")

    def __init__(self, index: int, delta: BookDelta) -> None:
        self.index = index
        self.last = delta
        self.changes: dict[tuple[str, float], LevelChange] = {}
        self.add(delta)

    def add(self, delta: BookDelta) -> None:
        for change in delta.changes:
            key = (change.side, change.price)
            self.changes.pop(key, None)  # re-insert: the net list keeps the order of last touch
            self.changes[key] = change
        self.last = delta

    def result(self, merged: int) -> BookDelta:
        if merged == 1:
            return self.last
        return msgspec.structs.replace(self.last, changes=list(self.changes.values()))


def conflate(
    messages: Sequence[Message], published: Mapping[str, Price]
) -> tuple[list[Message], int]:
    """Return one frame's ``messages`` conflated (see the module docstring) and how many merged.

    ``published`` is the last ``price`` sent per token, so an unchanged top is not sent again.
    """
    out: list[Message | None] = []  # None: a price a later one replaced
    deltas: dict[str, _Merge] = {}
    counts: dict[int, int] = {}  # output index of a delta → deltas merged into it
    prices: dict[str, int] = {}  # token → output index of its open price
    for message in messages:
        kind = type(message)
        if kind is BookDelta:
            assert isinstance(message, BookDelta)
            merge = deltas.get(message.token_id)
            if merge is None:
                deltas[message.token_id] = _Merge(len(out), message)
                counts[len(out)] = 1
                out.append(message)
            else:
                merge.add(message)
                counts[merge.index] += 1
            continue
        if kind is Price:
            assert isinstance(message, Price)
            at = prices.get(message.token_id)
            if at is not None:
                out[at] = None
            prices[message.token_id] = len(out)
            out.append(message)
            continue
        token = getattr(message, "token_id", None)
        if token is not None:
            _close(token, deltas, counts, out)
            prices.pop(token, None)
        out.append(message)
    for token in list(deltas):
        _close(token, deltas, counts, out)
    result: list[Message] = []
    sent: dict[str, Price] = {}  # prices kept so far in this frame
    for kept in out:
        if kept is None:
            continue
        if type(kept) is Price:
            assert isinstance(kept, Price)
            last = sent.get(kept.token_id) or published.get(kept.token_id)
            if last is not None and (last.bid, last.ask) == (kept.bid, kept.ask):
                continue  # the frame moved the top and moved it back
            sent[kept.token_id] = kept
        result.append(kept)
    return result, len(messages) - len(result)


def _close(
    token: str,
    deltas: dict[str, _Merge],
    counts: dict[int, int],
    out: list[Message | None],
) -> None:
    merge = deltas.pop(token, None)
    if merge is not None:
        out[merge.index] = merge.result(counts[merge.index])
