"""The analytics service assembled: the one writer of ``analytics.duckdb`` and its read path.

``AnalyticsOwner`` is what ``services/analytics`` runs::

    async with AnalyticsOwner(settings, AnalyticsConfig(), count=runtime.count):
        ...  # ingesting and serving until the block exits

Entering opens (and upgrades) the file, starts the batch flusher and the query endpoint, then
subscribes to ``prices.pub`` and ``events.pub`` (everything, so sequence gaps are counted). Jobs run
in worker threads on their own cursors: strategy_stats for touched strategies, correlations,
Parquet segments and snapshots for heavy readers. Leaving unsubscribes first (no more rows), then
runs the stats once more, stops the endpoint, flushes, checkpoints and releases the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from polybot.analytics.config import AnalyticsConfig
from polybot.analytics.correlations import compute_correlations
from polybot.analytics.ingest import Ingestor, now_utc
from polybot.analytics.queries import AnalyticsQueryServer
from polybot.analytics.stats import StatsJob
from polybot.analytics.tables import ANALYTICS_TABLES, upgrade_sql
from polybot.bus.aio import AsyncSubscriber
from polybot.bus.ipc import SocketOptions
from polybot.bus.nng import Gap
from polybot.config import Settings
from polybot.storage.duck_owner import DuckWriter
from polybot.storage.journal import record_dead_letter
from polybot.storage.sqlite import make_engine

log = logging.getLogger(__name__)

CountFn = Callable[[str, int], None]
FULL_STATS_EVERY = 12  # every Nth stats run re-marks every strategy (open positions move)


class AnalyticsOwner:
    """The whole analytics service as one async context manager (see the module docstring)."""

    def __init__(
        self, settings: Settings, config: AnalyticsConfig, *, count: CountFn | None = None
    ) -> None:
        self.settings = settings
        self.config = config
        self._count = count or (lambda _name, _amount: None)
        self._stack = AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self.writer: DuckWriter | None = None
        self.ingestor: Ingestor | None = None
        self.stats: StatsJob | None = None
        self._engine: Engine | None = None
        self._stats_runs = 0

    async def __aenter__(self) -> AnalyticsOwner:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_tasks()
        await self._stack.aclose()

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _start(self) -> None:
        settings, config, stack = self.settings, self.config, self._stack
        bus = settings.bus
        options = SocketOptions.from_settings(bus)
        engine = self._engine = make_engine(settings.sqlite_path)
        stack.callback(engine.dispose)
        writer = self.writer = DuckWriter(
            settings.analytics_path,
            ANALYTICS_TABLES,
            flush_rows=config.flush_rows,
            flush_interval_s=config.flush_interval_s,
            on_reject=self._on_reject,
        )
        stack.callback(writer.close)
        for statement in upgrade_sql():
            writer.execute(statement)
        writer.start()
        self.stats = StatsJob(writer)
        server = AnalyticsQueryServer(bus.analytics_req, writer.cursor, options=options)
        server.start()
        stack.callback(server.stop)
        # Last figures before the endpoint stops: the stats of rows that just came in.
        stack.push_async_callback(self.run_stats, True)
        ingestor = self.ingestor = Ingestor(writer, dead_letter=self.dead_letter, count=self._count)
        for name, address, callback in (
            ("prices", bus.prices_pub, ingestor.on_prices),
            ("events", bus.events_pub, ingestor.on_events),
        ):
            subscriber = AsyncSubscriber(
                address,
                callback=callback,
                on_gap=self._gap_counter(name),
                on_malformed=ingestor.malformed(f"{name}.pub"),
                options=options,
            )
            stack.callback(subscriber.close)
        self._spawn(self._every(config.stats_interval_s, self._stats_tick), "stats")
        self._spawn(self._every(config.correlation_interval_s, self.run_correlations), "corr")
        self._spawn(self._every(config.segments_interval_s, self.export_segments), "segments")
        self._spawn(self._every(config.snapshot_interval_s, self.write_snapshot), "snapshots")

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coroutine, name=f"analytics-{name}"))

    async def _every(self, interval_s: float, job: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await job()
            except Exception:
                # A failed job (disk full, a query bug) must not stop ingestion; it runs again.
                self._count("job_errors", 1)
                log.exception("analytics job %s failed", getattr(job, "__name__", job))

    # -- jobs ------------------------------------------------------------------------------------

    async def _stats_tick(self) -> None:
        self._stats_runs += 1
        await self.run_stats(self._stats_runs % FULL_STATS_EVERY == 0)

    async def run_stats(self, everything: bool = False) -> int:
        """Recompute strategy_stats (touched strategies, or all); return rows appended."""
        assert self.ingestor is not None
        assert self.stats is not None
        dirty, self.ingestor.dirty = self.ingestor.dirty, set()
        wanted = None if everything else dirty
        if wanted is not None and not wanted:
            return 0
        rows = await asyncio.to_thread(self.stats.run, wanted, now_utc())
        self._count("stats_rows", rows)
        return rows

    async def run_correlations(self) -> int:
        """Compute one correlation run over the configured window; return pairs written."""
        writer, config = self.writer, self.config
        assert writer is not None
        refs = await asyncio.to_thread(self._yes_tokens)

        def compute() -> list[tuple[Any, ...]]:
            con = writer.cursor()
            try:
                return compute_correlations(
                    con,
                    end=now_utc(),
                    window_s=config.correlation_window_s,
                    step_s=config.correlation_step_s,
                    min_observations=config.correlation_min_observations,
                    max_markets=config.correlation_max_markets,
                    reference_tokens=refs,
                )
            finally:
                con.close()

        writer.flush("price_history")
        rows = await asyncio.to_thread(compute)
        if rows:
            writer.extend("market_correlations", rows)
        self._count("correlation_runs", 1)
        return len(rows)

    async def export_segments(self) -> None:
        """Publish new Parquet segments of the append-only tables."""
        assert self.writer is not None
        folder = self.config.exports_dir(self.settings.data_dir) / "segments"
        written = await asyncio.to_thread(self.writer.export_segments, folder)
        self._count("segments_written", len(written))

    async def write_snapshot(self) -> None:
        """Publish a checkpointed copy of the whole file."""
        assert self.writer is not None
        folder = self.config.exports_dir(self.settings.data_dir) / "snapshots"
        await asyncio.to_thread(self.writer.write_snapshot, folder, keep=self.config.snapshots_keep)
        self._count("snapshots_written", 1)

    def _yes_tokens(self) -> dict[str, str]:
        # The scanner's markets table says which token is YES; without it correlations fall
        # back to each market's smallest token id (stable, but not necessarily YES).
        if self._engine is None:
            return {}
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(text("SELECT market_id, yes_token_id FROM markets"))
                return {str(market): str(token) for market, token in rows}
        except SQLAlchemyError:
            return {}

    # -- accounting ------------------------------------------------------------------------------

    def _gap_counter(self, name: str) -> Callable[[Gap], None]:
        def on_gap(gap: Gap) -> None:
            if gap.reset:
                self._count(f"{name}_resets", 1)
            else:
                self._count(f"{name}_gaps", 1)
                self._count(f"{name}_missed", gap.missed)

        return on_gap

    def dead_letter(self, payload: bytes, reason: str, origin: str) -> None:
        """Keep a frame or row analytics could not use, with the reason (SQLite dead_letters)."""
        self._count("dead_letters", 1)
        if self._engine is None:
            return
        try:
            with Session(self._engine) as session:
                record_dead_letter(
                    session, source=f"analytics:{origin}", reason=reason, payload=payload
                )
                session.commit()
        except SQLAlchemyError:
            self._count("dead_letter_store_errors", 1)
            log.exception("could not store a dead letter from %s (%s)", origin, reason)

    def _on_reject(self, table: str, row: Any, error: Exception) -> None:
        if self.ingestor is not None:
            self.ingestor.rejected_row(table, row, error)
