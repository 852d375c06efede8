"""A seeded synthetic market universe: binary markets, neg-risk events, initial liquidity.

Everything derives from ``WorldConfig.seed`` through one ``random.Random``, so the same seed
gives byte-identical ids, metadata and books. Market makers act through the exchange's public
order path (their own funded account), so the ledger's conservation holds from the first order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from polybot.core.money import BASE_UNITS
from polybot.localvenue.exchange import Exchange
from polybot.localvenue.markets import EventSpec, MarketSpec, ProtocolVersion
from polybot.localvenue.orders import PostOrder
from polybot.model.fees import FeeSchedule
from polybot.venues.sim.book import Side
from polybot.venues.sim.matcher import TimeInForce

MM_ADDRESS = "0x00000000000000000000000000000000000a11ce"
MM_API_KEY = "00000000-0000-4000-8000-00000000a11c"

# category -> (fee schedule, tags, question templates); rates from reference §8 (2026 observed)
CATEGORIES: dict[str, tuple[FeeSchedule, tuple[str, ...], tuple[str, ...]]] = {
    "crypto": (FeeSchedule(rate=Decimal("0.07"), rebate_rate=Decimal("0.2")), ("crypto", "bitcoin"),
               ("Will {asset} close above ${n},000 on {date}?", "Will {asset} hit a new high by {date}?")),
    "sports": (FeeSchedule(rate=Decimal("0.05"), rebate_rate=Decimal("0.25")), ("sports", "nba"),
               ("Will the {team} win on {date}?", "Will the {team} win the championship?")),
    "politics": (FeeSchedule(rate=Decimal("0.04"), rebate_rate=Decimal("0.15")), ("politics", "elections"),
                 ("Will {person} win the {place} election?", "Will {person} resign by {date}?")),
    "geopolitics": (FeeSchedule(), ("geopolitics", "world"),
                    ("Will {place} sign a ceasefire by {date}?", "Will {place} hold talks by {date}?")),
    "economics": (FeeSchedule(rate=Decimal("0.05"), rebate_rate=Decimal("0.2")), ("economics", "fed"),
                  ("Will the Fed cut rates by {date}?", "Will {place} CPI exceed {n}% in {date}?")),
}
_WORDS = {
    "asset": ("Bitcoin", "Ethereum", "Solana", "XRP", "Dogecoin"),
    "team": ("Falcons", "Comets", "Rangers", "Titans", "Wolves", "Pilots"),
    "person": ("A. Rivera", "J. Okafor", "M. Lindqvist", "S. Tanaka", "P. Duarte"),
    "place": ("Atlantis", "Borduria", "Syldavia", "Freedonia", "Genovia"),
}
_TICKS = ((Decimal("0.01"), 60), (Decimal("0.001"), 20), (Decimal("0.005"), 8),
          (Decimal("0.0025"), 7), (Decimal("0.1"), 5))


@dataclass(frozen=True, slots=True, kw_only=True)
class WorldConfig:
    """Size and shape of the universe."""

    seed: int = 7
    n_binary: int = 500
    n_neg_risk_events: int = 40
    min_outcomes: int = 3
    max_outcomes: int = 12
    v2_fraction: float = 0.15
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    mm_levels: int = 5
    mm_funds_pusd: int = 1_000_000_000


@dataclass(slots=True)
class World:
    """The generated universe and each market's fair YES value."""

    config: WorldConfig
    rng: random.Random
    events: list[EventSpec] = field(default_factory=list)
    markets: list[MarketSpec] = field(default_factory=list)
    fair: dict[str, Decimal] = field(default_factory=dict)
    end_s: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def next_id(self) -> int:
        """Return the next Gamma numeric id."""
        self.counter += 1
        return self.counter


def _hex32(rng: random.Random) -> str:
    return "0x" + f"{rng.getrandbits(256):064x}"


def _question(rng: random.Random, category: str, end: datetime) -> str:
    template = rng.choice(CATEGORIES[category][2])
    words = {k: rng.choice(v) for k, v in _WORDS.items()}
    return template.format(date=end.strftime("%B %d, %Y"), n=rng.randint(2, 150), **words)


def _slug(text: str, n: int) -> str:
    base = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return "-".join(filter(None, base.split("-")))[:80] + f"-{n}"


def _tick(rng: random.Random) -> Decimal:
    return rng.choices([t for t, _ in _TICKS], [w for _, w in _TICKS])[0]


def new_binary(world: World, *, category: str | None = None, event: EventSpec | None = None,
               fair: Decimal | None = None, tick: Decimal | None = None,
               title: str = "") -> MarketSpec:
    """Create (and record in ``world``) one binary market."""
    rng = world.rng
    category = category or rng.choice(sorted(CATEGORIES))
    fees, tags, _ = CATEGORIES[category]
    end = world.config.start + timedelta(days=rng.randint(1, 120))
    question = title or _question(rng, category, end)
    gamma_id = world.next_id()
    version = ProtocolVersion.V2 if rng.random() < world.config.v2_fraction else ProtocolVersion.V1
    spec = MarketSpec(
        condition_id=_hex32(rng), question_id=_hex32(rng),
        yes_asset=str(rng.getrandbits(255)), no_asset=str(rng.getrandbits(255)),
        tick_size=tick or _tick(rng), fees=fees, version=version,
        neg_risk=event is not None and event.neg_risk,
        neg_risk_market_id=event.neg_risk_market_id if event else "",
        gamma_id=str(gamma_id), event_id=event.event_id if event else str(world.next_id()),
        question=question, slug=_slug(question, gamma_id),
        description=f'This market will resolve to "Yes" if: {question} Otherwise "No".',
        category=category, tags=tags, group_item_title=title,
        start_date_iso=world.config.start.isoformat().replace("+00:00", "Z"),
        end_date_iso=end.isoformat().replace("+00:00", "Z"),
    )
    world.markets.append(spec)
    world.fair[spec.condition_id] = fair if fair is not None else (
        Decimal(rng.randint(5, 95)) / 100
    )
    world.end_s[spec.condition_id] = int(end.timestamp())
    return spec


def build_world(config: WorldConfig) -> World:
    """Generate the universe deterministically from ``config.seed``."""
    world = World(config=config, rng=random.Random(config.seed))
    rng = world.rng
    for _ in range(config.n_binary):
        spec = new_binary(world)
        world.events.append(EventSpec(
            event_id=spec.event_id, title=spec.question, slug=spec.slug,
            description=spec.description, category=spec.category, tags=spec.tags,
            condition_ids=(spec.condition_id,), start_date_iso=spec.start_date_iso,
            end_date_iso=spec.end_date_iso,
        ))
    for _ in range(config.n_neg_risk_events):
        n = rng.randint(config.min_outcomes, config.max_outcomes)
        category = rng.choice(sorted(CATEGORIES))
        event_id = str(world.next_id())
        title = f"Who will win the {rng.choice(_WORDS['place'])} {category} prize?"
        event = EventSpec(event_id=event_id, title=title, slug=_slug(title, int(event_id)),
                          category=category, tags=CATEGORIES[category][1], neg_risk=True,
                          neg_risk_market_id=_hex32(rng))
        weights = [rng.gammavariate(1.0, 1.0) for _ in range(n)]
        total = sum(weights)
        tick = Decimal("0.001") if n > 5 else Decimal("0.01")
        ids = []
        for i, w in enumerate(weights):
            fair = max(tick, (Decimal(w / total)).quantize(tick))
            spec = new_binary(world, category=category, event=event, fair=min(fair, 1 - tick),
                              tick=tick, title=f"Candidate {chr(65 + i)}")
            ids.append(spec.condition_id)
        world.events.append(dataclasses.replace(event, condition_ids=tuple(ids)))
    return world


def order_id(world: World, tag: str) -> str:
    """Return a deterministic 0x-hex order id (flow orders are not signed, so not a digest)."""
    world.counter += 1
    return "0x" + hashlib.sha256(f"{world.config.seed}:{tag}:{world.counter}".encode()).hexdigest()


def quote(exchange: Exchange, world: World, spec: MarketSpec, *, levels: int | None = None,
          size_shares: int | None = None, skew: Decimal = Decimal(0)) -> None:
    """Place a market maker's ladder around fair: YES bids and BUY-NO (YES asks), collateral only."""
    market = exchange.market(spec.condition_id)
    if market.closed:
        return
    rng = world.rng
    tick = market.tick_size
    fair = world.fair[spec.condition_id] + skew
    half = max(tick, Decimal(rng.randint(1, 3)) * tick)
    bid = ((fair - half) / tick).to_integral_value(ROUND_FLOOR) * tick
    ask = ((fair + half) / tick).to_integral_value(ROUND_CEILING) * tick
    for i in range(levels or world.config.mm_levels):
        size = (size_shares or rng.randint(20, 400)) * BASE_UNITS
        for side_price, buy_yes in ((bid - i * tick, True), (ask + i * tick, False)):
            if not tick <= side_price <= 1 - tick:
                continue
            price = side_price if buy_yes else 1 - side_price
            asset = spec.yes_asset if buy_yes else spec.no_asset
            exchange.post_order(PostOrder(
                order_id=order_id(world, "mm"), api_key=MM_API_KEY, maker=MM_ADDRESS,
                signer=MM_ADDRESS, asset_id=asset, side=Side.BUY,
                maker_amount=int(size * price), taker_amount=size, order_type=TimeInForce.GTC,
                post_only=True,
            ))


def seed_exchange(exchange: Exchange, world: World) -> None:
    """Register every event and market, fund the market maker and quote every book."""
    exchange.register_api_key(MM_API_KEY, MM_ADDRESS)
    exchange.fund(MM_ADDRESS, world.config.mm_funds_pusd * BASE_UNITS)
    for event in world.events:
        exchange.add_event(event)
    for spec in world.markets:
        exchange.add_market(spec, announce=False)
    for spec in world.markets:
        quote(exchange, world, spec)
