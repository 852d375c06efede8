"""Build the executor's parts from ``Settings``: database, venue client, credentials, venue.

Credentials, in order: the configured key (``POLYBOT_POLYMARKET__PRIVATE_KEY``) with its API
credentials (configured, or derived with an L1 signature); otherwise, on the local venue only,
the throwaway wallet the venue created in the data directory (``local_wallet.json``). Nothing
here logs a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Message
from polybot.config import Settings
from polybot.core.errors import ConfigError
from polybot.execution.books import BookKeeper
from polybot.execution.control import Controls, startup_limits
from polybot.execution.executor import Executor, ExecutorConfig
from polybot.execution.live import PolymarketVenue
from polybot.execution.markets import MarketCatalog
from polybot.execution.orders import OrderStore
from polybot.execution.portfolio import FAILED, Ledger
from polybot.execution.tracking import Tracker
from polybot.execution.venue import PAPER_ACCOUNT, PaperTrading, Venue
from polybot.localvenue.wallet import load_wallet
from polybot.storage.migrate import init_db
from polybot.storage.models import FillReversal, Position, Settlement, Trade
from polybot.storage.sqlite import make_engine, make_session_factory
from polybot.venues.polymarket.auth import ApiCreds
from polybot.venues.polymarket.clob import ClobClient
from polybot.venues.polymarket.gamma import GammaClient
from polybot.venues.polymarket.signer import PrivateKeySigner


@dataclass(slots=True)
class Database:
    """The operational database of one executor."""

    engine: Engine
    sessions: sessionmaker[Session]


@dataclass(slots=True)
class Parts:
    """What ``build_executor`` made; ``aclose`` releases what the executor does not own."""

    executor: Executor
    database: Database
    clob: ClobClient
    gamma: GammaClient

    async def aclose(self) -> None:
        """Close the public clients and the database engine."""
        await self.clob.aclose()
        await self.gamma.aclose()
        self.executor.store.close()  # its writer connection is checked out for good
        self.database.engine.dispose()


def open_database(settings: Settings, data_dir: Path) -> Database:
    """Create/upgrade ``polybot.db`` and return an engine and session factory on it."""
    path = data_dir / "polybot.db"
    init_db(path)
    engine = make_engine(path)
    return Database(engine, make_session_factory(engine))


async def _credentials(settings: Settings, clob: ClobClient, data_dir: Path) -> PrivateKeySigner:
    creds = settings.polymarket
    if creds.private_key is not None:
        signer = PrivateKeySigner(creds.private_key.get_secret_value())
        clob.signer = signer
        clob.address = signer.address
        if creds.api_key and creds.api_secret and creds.api_passphrase:
            clob.creds = ApiCreds(
                api_key=creds.api_key,
                secret=creds.api_secret.get_secret_value(),
                passphrase=creds.api_passphrase.get_secret_value(),
            )
        else:
            await clob.create_or_derive_api_key()
        return signer
    if settings.venue.kind != "local":
        raise ConfigError("live trading needs POLYBOT_POLYMARKET__PRIVATE_KEY")
    wallet = load_wallet(data_dir)
    if wallet is None or not wallet.api_key:
        raise ConfigError(
            f"no local venue wallet in {data_dir} yet: start the local venue (polybot sim) first"
        )
    clob.signer = wallet.signer
    clob.address = wallet.address
    clob.creds = ApiCreds(
        api_key=wallet.api_key, secret=wallet.api_secret, passphrase=wallet.api_passphrase
    )
    return wallet.signer


def paper_cash(sessions: sessionmaker[Session], starting: Decimal) -> Decimal:
    """Return the paper account's cash: the starting amount moved by every paper fill booked,
    every settlement's payout and every fill reversal's cash.

    The paper venue lives in this process; a restart must neither hand the account fresh money
    nor lose what it was paid since (the paper venue pays a resolved market's shares at once).
    A fill first seen FAILED never moved cash (it was recorded, not applied); one reversed
    later moved it twice, by its trade and back by its reversal's ``cash_delta``.
    """
    paper = PAPER_ACCOUNT
    with sessions() as session:
        trades = session.scalars(select(Trade).where(Trade.account == paper)).all()
        reversals = session.execute(
            select(FillReversal.trade_id, FillReversal.cash_delta).where(
                FillReversal.account == paper
            )
        ).all()
        payouts = session.scalars(
            select(Settlement.payout).where(Settlement.account == paper)
        ).all()
    cash = starting + sum(payouts, Decimal(0)) + sum((r.cash_delta for r in reversals), Decimal(0))
    reversed_trades = {r.trade_id for r in reversals}
    for trade in trades:
        if trade.status == FAILED and trade.id not in reversed_trades:
            continue  # first seen FAILED: recorded, never applied
        notional = trade.price * trade.size
        cash += (-notional if trade.side == "BUY" else notional) - trade.fee
    return cash


def paper_holdings(sessions: sessionmaker[Session]) -> list[tuple[str, str, Decimal]]:
    """Return the paper account's shares per token, ``(market_id, token_id, shares)``, from its
    positions (all strategies together: the paper venue holds them as one account)."""
    held: dict[tuple[str, str], Decimal] = {}
    with sessions() as session:
        rows = session.execute(
            select(Position.market_id, Position.token_id, Position.size).where(
                Position.account == PAPER_ACCOUNT
            )
        ).all()
    for market_id, token_id, size in rows:  # summed here: SQL would add the decimals as floats
        held[(market_id, token_id)] = held.get((market_id, token_id), Decimal(0)) + size
    return [(market, token, shares) for (market, token), shares in held.items() if shares > 0]


async def build_executor(
    settings: Settings,
    data_dir: Path,
    *,
    publish: Callable[[Message], object],
    count: Callable[[str], None],
) -> Parts:
    """Return a ready-to-start executor for the configured mode, with its database and client."""
    db = open_database(settings, data_dir)
    # Market data and metadata use a client of their own: the live venue's client carries the
    # trading credentials and is closed with the venue.
    clob = ClobClient(settings.venue.url("clob"), chain_id=settings.venue.chain_id)
    gamma = GammaClient(settings.venue.url("gamma"))
    venue: Venue
    if settings.executor_mode == "paper":
        venue = PaperTrading(
            paper_cash(db.sessions, settings.venue.local_fund_usdc), paper_holdings(db.sessions)
        )
    else:
        trading = ClobClient(settings.venue.url("clob"), chain_id=settings.venue.chain_id)
        signer = await _credentials(settings, trading, data_dir)
        venue = PolymarketVenue(
            trading,
            signer,
            user_ws_url=settings.venue.url("ws_user"),
            chain_id=settings.venue.chain_id,
            signature_type=settings.polymarket.signature_type,
            funder=settings.polymarket.funder_address,
        )
    venue_name = "paper" if isinstance(venue, PaperTrading) else settings.venue.kind
    store = OrderStore(db.sessions, account=venue.account, venue=venue_name)
    tracker = Tracker(store, Ledger(db.sessions, account=venue.account), publish, count)
    executor = Executor(
        venue=venue,
        catalog=MarketCatalog(clob, gamma),
        books=BookKeeper(clob),
        tracker=tracker,
        controls=Controls(
            startup_limits(settings.risk, data_dir),
            data_dir,
            db.sessions,
            db_version=store.data_version,
        ),
        config=ExecutorConfig(
            mode=settings.executor_mode, cancel_on_shutdown=settings.cancel_on_shutdown
        ),
    )
    return Parts(executor, db, clob, gamma)
