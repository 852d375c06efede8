"""Background flow: noise takers, re-quoting makers, mispricings, resolutions, new markets.

Deterministic given the world's seed and the sequence of clock readings: actions are drawn from
the world's ``random.Random`` with exponential inter-arrival times in *simulated* seconds, and
``speed`` (time acceleration) maps clock seconds to simulated seconds. Every action goes through
the public :class:`~polybot.localvenue.exchange.Exchange` API with funded flow accounts, so the
ledger's conservation holds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import Generic, TypeVar

from polybot.core.money import BASE_UNITS
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.markets import EventSpec, MarketSpec
from polybot.localvenue.orders import PostOrder
from polybot.localvenue.world import World, new_binary, order_id, quote
from polybot.venues.sim.book import Side
from polybot.venues.sim.matcher import TimeInForce

TAKER_ADDRESS = "0x0000000000000000000000000000000000007a6e"
TAKER_API_KEY = "00000000-0000-4000-8000-000000007a6e"
_MM_KEY = "00000000-0000-4000-8000-00000000a11c"
_EXTREME_HIGH, _EXTREME_LOW = Decimal("0.96"), Decimal("0.04")
_COARSE, _FINE = Decimal("0.01"), Decimal("0.001")
T = TypeVar("T")


class _OpenIndex(Generic[T]):
    """The still-open items of an append-only world list, in world order, for random picks.

    Replaces a scan of the whole list per action: new items are taken in as the list grows,
    closed ones are dropped when the flow closes them (``discard``) or, when something else
    closed them, when a pick lands on one. So a pick is the same ``rng.choice`` over the same
    list the scan produced (same seed, same world), at a cost proportional to the changes.
    """

    def __init__(
        self,
        source: list[T],
        key: Callable[[T], str],
        is_open: Callable[[T], bool],
        wanted: Callable[[T], bool],
    ) -> None:
        self._source = source
        self._key = key
        self._is_open = is_open
        self._wanted = wanted
        self._seen = 0  # how much of ``source`` has been taken in
        self._items: list[T] = []  # open items, in world order
        self._rank: list[int] = []  # their positions in ``source`` (ascending)
        self._where: dict[str, int] = {}  # key -> position in ``source``

    def _sync(self) -> None:
        source = self._source
        while self._seen < len(source):
            item = source[self._seen]
            self._where[self._key(item)] = self._seen
            if self._wanted(item) and self._is_open(item):
                self._items.append(item)
                self._rank.append(self._seen)
            self._seen += 1

    def pick(self, rng: Random) -> T | None:
        """Return a uniformly chosen open item (None when none is left)."""
        self._sync()
        items = self._items
        while items:
            i = rng.randrange(len(items))  # the draw ``rng.choice(items)`` makes
            item = items[i]
            if self._is_open(item):
                return item
            del items[i], self._rank[i]  # closed behind the flow's back: drop, draw again
        return None

    def discard(self, key: str) -> None:
        """Forget the item with ``key`` (it closed)."""
        self._sync()
        rank = self._where.get(key)
        if rank is None:
            return
        i = bisect_left(self._rank, rank)
        if i < len(self._rank) and self._rank[i] == rank:
            del self._items[i], self._rank[i]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowConfig:
    """Rates are per simulated second across the whole universe."""

    speed: float = 1.0
    actions_per_s: float = 5.0
    w_taker: int = 50
    w_requote: int = 30
    w_mispricing: int = 5
    w_resolve: int = 3
    w_new_market: int = 2
    taker_funds_pusd: int = 1_000_000_000


class Flow:
    """Drives background activity on an exchange seeded from ``world``."""

    def __init__(self, exchange: Exchange, world: World, config: FlowConfig | None = None) -> None:
        self.exchange = exchange
        self.world = world
        self.config = config or FlowConfig()
        self.rng = world.rng
        self._last_ns = exchange.clock.now_ns()
        self._budget_s = 0.0
        self._next_gap_s = self.rng.expovariate(self.config.actions_per_s)
        exchange.register_api_key(TAKER_API_KEY, TAKER_ADDRESS)
        exchange.fund(TAKER_ADDRESS, self.config.taker_funds_pusd * BASE_UNITS)
        self.actions: list[str] = []  # log of what ran, for determinism checks and debugging
        closed = self._closed
        self._markets = _OpenIndex(
            world.markets,
            lambda s: s.condition_id,
            lambda s: not closed(s.condition_id),
            lambda s: True,
        )
        self._events = _OpenIndex(
            world.events,
            lambda e: e.event_id,
            lambda e: not any(closed(c) for c in e.condition_ids),
            lambda e: True,
        )
        self._neg_risk = _OpenIndex(
            world.events,
            lambda e: e.event_id,
            lambda e: not any(closed(c) for c in e.condition_ids),
            lambda e: e.neg_risk,
        )

    def run_until_now(self) -> int:
        """Run every action due since the last call (by the clock × speed); return how many."""
        now = self.exchange.clock.now_ns()
        self._budget_s += (now - self._last_ns) / 1e9 * self.config.speed
        self._last_ns = now
        done = 0
        while self._budget_s >= self._next_gap_s:
            self._budget_s -= self._next_gap_s
            self._next_gap_s = self.rng.expovariate(self.config.actions_per_s)
            self.step()
            done += 1
        return done

    def step(self) -> str:
        """Run one randomly chosen action; return its name."""
        c = self.config
        kinds = ("taker", "requote", "mispricing", "resolve", "new_market")
        kind = self.rng.choices(
            kinds, (c.w_taker, c.w_requote, c.w_mispricing, c.w_resolve, c.w_new_market)
        )[0]
        getattr(self, f"_{kind}")()
        self.actions.append(kind)
        return kind

    # ---- actions ----------------------------------------------------------------------
    def _closed(self, condition_id: str) -> bool:
        return self.exchange.market(condition_id).closed

    def _taker(self) -> None:
        """A noise taker buys YES or NO at the touch; fair value drifts toward the trade."""
        spec = self._markets.pick(self.rng)
        if spec is None:
            return
        buy_yes = self.rng.random() < 0.5
        asset = spec.yes_asset if buy_yes else spec.no_asset
        _, ask = self.exchange.best_bid_ask(asset)
        if ask is None:
            return
        shares = self.rng.randint(5, 60)
        size = shares * BASE_UNITS
        self.exchange.post_order(
            PostOrder(
                order_id=order_id(self.world, "taker"),
                api_key=TAKER_API_KEY,
                maker=TAKER_ADDRESS,
                signer=TAKER_ADDRESS,
                asset_id=asset,
                side=Side.BUY,
                maker_amount=int(size * ask),
                taker_amount=size,
                order_type=TimeInForce.FAK,
            )
        )
        tick = self.exchange.market(spec.condition_id).tick_size
        step = tick if buy_yes else -tick
        fair = self.world.fair[spec.condition_id] + step
        self.world.fair[spec.condition_id] = min(max(fair, tick), 1 - tick)
        self._maybe_change_tick(spec)

    def _requote(self) -> None:
        """The maker pulls one market's quotes and re-quotes around the current fair value."""
        spec = self._markets.pick(self.rng)
        if spec is None:
            return
        self.exchange.cancel_market(_MM_KEY, market=spec.condition_id)
        quote(self.exchange, self.world, spec)

    def _mispricing(self) -> None:
        """Quote a neg-risk event's YES asks low enough that they sum below 1 (an arb to find)."""
        event = self._neg_risk.pick(self.rng)
        if event is None:
            return
        for cid in event.condition_ids:
            spec = self.exchange.market(cid).spec
            self.exchange.cancel_market(_MM_KEY, market=cid)
            # shift the ladder down: the best YES ask lands near fair − 1 tick
            tick = self.exchange.market(cid).tick_size
            quote(self.exchange, self.world, spec, levels=2, skew=-3 * tick)

    def _resolve(self) -> None:
        """Resolve a binary market, or a whole neg-risk event (exactly one winner)."""
        event = self._events.pick(self.rng)
        if event is None:
            return
        fairs = [float(self.world.fair[c]) for c in event.condition_ids]
        if event.neg_risk:
            winner = self.rng.choices(range(len(fairs)), fairs)[0]
            for i, cid in enumerate(event.condition_ids):
                self.exchange.resolve(cid, 0 if i == winner else 1)
        else:
            [cid] = event.condition_ids
            self.exchange.resolve(cid, 0 if self.rng.random() < fairs[0] else 1)
        for index in (self._events, self._neg_risk):
            index.discard(event.event_id)
        for cid in event.condition_ids:
            self._markets.discard(cid)

    def _new_market(self) -> None:
        """List a fresh binary market (announced as ``new_market``) and quote it."""
        spec = new_binary(self.world)
        event = EventSpec(
            event_id=spec.event_id,
            title=spec.question,
            slug=spec.slug,
            category=spec.category,
            tags=spec.tags,
            condition_ids=(spec.condition_id,),
        )
        self.world.events.append(event)
        self.exchange.add_event(event)
        self.exchange.add_market(spec)
        quote(self.exchange, self.world, spec)

    def _maybe_change_tick(self, spec: MarketSpec) -> None:
        """Move a 0.01 market to 0.001 once its price goes beyond 0.96 / 0.04 (and back)."""
        market = self.exchange.market(spec.condition_id)
        bid, ask = market.book.best_bid(), market.book.best_ask()
        extreme = (bid is not None and bid > _EXTREME_HIGH) or (
            ask is not None and ask < _EXTREME_LOW
        )
        if extreme and market.tick_size == _COARSE:
            self.exchange.set_tick_size(spec.condition_id, _FINE)
