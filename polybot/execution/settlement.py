"""Market resolutions settle our positions: 1 pUSD per winning share, 0 per losing share, and
0.5 per share of either token when the market resolved 50/50 (no single winner).

Where the executor learns that a market resolved:

* **the price bus** — the scanner's ``market_resolved`` (:meth:`Settler.on_message`): at once;
* **the venue** — :meth:`Settler.sweep` asks the venue's market (CLOB ``/markets/{cid}``:
  ``closed`` and ``tokens[].winner``, or for a 50/50 no winner and both ``tokens[].price`` at
  0.5 — see :func:`winner_of`) about every market where we hold shares: at start, after
  reconciliation (so a resolution published while the executor was down is not missed), and with
  the periodic reconciliation (every market at most once per ``sweep_every_s``; a market whose
  orders the venue cancelled because it resolved at each one, asked past the catalog's cache,
  until it shows a winner);
* **a late fill** — a fill booked in a market already resolved is settled right away.

A 50/50 reaches us from the venue only: the bus ``market_resolved`` names one winning token, so it
cannot carry one (the sweep finds it, at once when the venue's cancels flagged the market).

The ledger does the accounting (``Ledger.settle``: one commit for the resolution, the
``settlements`` rows and the closed positions; idempotent). Each settled position is announced on
``events.pub`` as ``position_settled``.

Balances: resolution does not move collateral at the venue. The winning shares are *redeemable*
(on Polymarket a CTF ``redeemPositions`` call; on the local venue ``Exchange.redeem``), and the
venue's pUSD balance includes the payout only once they are redeemed. So a settlement leaves the
executor's free balance (the venue's, as last reconciled) alone: the event's ``payout`` says what
redeeming will pay, and the next reconciliation after the redemption picks the money up. The
paper venue pays out at resolution itself; its cash reaches the balance at the next reconcile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from polybot.bus.messages import MarketResolved, Message
from polybot.core.errors import VenueError
from polybot.execution import fates
from polybot.execution.markets import MarketCatalog
from polybot.execution.portfolio import Ledger, Settled
from polybot.execution.resolutions import NO_WINNER, SPLIT_OUTCOME, SPLIT_PRICE
from polybot.model.market import Market

log = logging.getLogger(__name__)

POSITION_SETTLED = "position_settled"  # a position closed by its market's resolution
FILL_REVERSED = "fill_reversed"  # a booked fill undone: its trade ended FAILED at the venue

SOURCE_PRICES = "prices.pub"
SOURCE_VENUE = "venue"
SOURCE_LATE_FILL = "late_fill"
SWEEP_EVERY_S = 60.0  # held markets, via the catalog (a minute's cache); flagged ones: every time
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def winner_of(market: Market) -> tuple[str, str] | None:
    """Return ``(winning token, outcome name)`` of a resolved market; None while unresolved.

    A market counts as resolved when it is closed and exactly one token is marked the winner, or
    when it is closed, no token is marked and both of its tokens are priced exactly 0.5 — a
    50/50, returned as ``(NO_WINNER, SPLIT_OUTCOME)``. A closed market showing anything else
    (e.g. legacy markets closed at 0/0) is not settled.
    """
    if not market.closed:
        return None
    winners = [outcome for outcome in market.outcomes if outcome.winner]
    if len(winners) == 1:
        return winners[0].asset_id, winners[0].name
    if not winners and is_split(market):
        return NO_WINNER, SPLIT_OUTCOME
    return None


def is_split(market: Market) -> bool:
    """True when a binary market's prices say it resolved 50/50 (each outcome pays 0.5)."""
    outcomes = market.outcomes
    return len(outcomes) == 2 and all(outcome.price == SPLIT_PRICE for outcome in outcomes)


class Settler:
    """Turns resolutions into settlements of the ledger's positions, and announces them."""

    def __init__(
        self,
        ledger: Ledger,
        publish: Callable[[Message], object],
        count: Callable[[str], None],
        *,
        sweep_every_s: float = SWEEP_EVERY_S,
    ) -> None:
        self.ledger = ledger
        self.publish = publish
        self.count = count
        self.sweep_every_s = sweep_every_s
        self.catalog: MarketCatalog | None = None  # known after the first sweep
        self._flagged: set[str] = set()  # markets the venue hinted resolved
        self._last_sweep = float("-inf")

    def on_message(self, message: Message) -> None:
        """Settle on a ``market_resolved`` from the price bus (other messages are ignored)."""
        if isinstance(message, MarketResolved):
            self.resolve(
                message.market_id,
                message.winning_token_id,
                winning_outcome=message.winning_outcome,
                source=SOURCE_PRICES,
                resolved_at=_when(message.timestamp),
            )

    def flag(self, market_id: str) -> None:
        """The venue hinted that ``market_id`` resolved (an order cancelled for it): check it."""
        if self.ledger.resolution(market_id) is None:
            self._flagged.add(market_id)

    def resolve(
        self,
        market_id: str,
        winning_token_id: str,
        *,
        winning_outcome: str = "",
        source: str,
        resolved_at: datetime | None = None,
    ) -> list[Settled]:
        """Settle every position held in ``market_id``; announce each. Idempotent.

        ``winning_token_id`` is ``NO_WINNER`` for a 50/50 resolution (every token pays 0.5).
        """
        info = self.catalog.cached(market_id) if self.catalog is not None else None
        if (
            info is not None
            and winning_token_id != NO_WINNER
            and winning_token_id not in info.token_ids
        ):
            log.warning(
                "market %s resolution ignored: %s is not one of its tokens %s",
                market_id,
                winning_token_id,
                info.token_ids,
            )
            return []
        settled = self.ledger.settle(
            market_id,
            winning_token_id,
            winning_outcome=winning_outcome,
            source=source,
            resolved_at=resolved_at,
        )
        self._flagged.discard(market_id)
        for one in settled:
            self.count("positions_settled")
            log.info(
                "settled %s %s of %s in %s at %s: realized %s",
                one.strategy,
                one.shares,
                one.token_id,
                market_id,
                one.payout_price,
                one.realized_pnl,
            )
            self.publish(settled_event(self.ledger.account, one))
        return settled

    def settle_late(self, market_id: str) -> list[Settled]:
        """Settle what a fill booked after its market's resolution left open."""
        winner = self.ledger.resolution(market_id)
        if winner is None:
            return []
        return self.resolve(market_id, winner, source=SOURCE_LATE_FILL)

    async def sweep(self, catalog: MarketCatalog, *, everything: bool = False) -> list[Settled]:
        """Ask the venue about the markets we hold (and flagged ones); settle the resolved ones.

        Never raises: a market the venue cannot describe now is asked again next time.
        """
        self.catalog = catalog
        due = set(self._flagged)
        now = time.monotonic()
        if everything or now - self._last_sweep >= self.sweep_every_s:
            self._last_sweep = now
            due |= self.ledger.held_markets()
        settled: list[Settled] = []
        for market_id in sorted(due):
            if self.ledger.resolution(market_id) is not None:
                settled += self.settle_late(market_id)  # resolved already: no need to ask
                continue
            try:
                # A flagged market is asked past the catalog's cache: its cached entry may be
                # the still-open market of before the resolution.
                info = await catalog.get(market_id, fresh=everything or market_id in self._flagged)
            except VenueError as exc:
                log.warning("could not ask the venue whether %s resolved: %s", market_id, exc)
                continue
            except Exception:  # a sweep must never stop the executor's upkeep
                log.exception("resolution check of %s failed", market_id)
                continue
            if info is None:
                self._flagged.discard(market_id)
                continue
            found = winner_of(info.market)
            if found is None:
                continue
            token_id, outcome = found
            settled += self.resolve(
                market_id,
                token_id,
                winning_outcome=outcome,
                source=SOURCE_VENUE,
                resolved_at=info.market.closed_time,
            )
        return settled


def settled_event(account: str, one: Settled) -> Message:
    """Return the ``position_settled`` event of one settlement."""
    return fates.system_event(
        POSITION_SETTLED,
        account=account,
        strategy=one.strategy,
        market_id=one.market_id,
        token_id=one.token_id,
        winning_token_id=one.winning_token_id,
        winning_outcome=one.winning_outcome,
        won=one.won,
        split=one.split,
        shares=one.shares,
        avg_price=one.avg_price,
        payout_price=one.payout_price,
        payout=one.payout,
        realized_pnl=one.realized_pnl,
        position_realized_pnl=one.position_realized_pnl,
        source=one.source,
        settlement_id=one.settlement_id,
        resolved_at=(one.resolved_at - _EPOCH) // _MS,
    )


def _when(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_ms else datetime.now(UTC)
