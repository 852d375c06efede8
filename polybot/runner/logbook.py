"""The runner's record in ``strategy_logs.duckdb``: one row per run, one row per decision.

The runner is the file's only writer (DuckDB allows one process); rows are buffered and
appended in batches by ``DuckWriter``. ``strategy_runs`` gets a row when an instance starts and
its ``ended_at``/``status`` when it stops (STOPPED, FAULTED, RESTARTED, CONFIG_ERROR);
``strategy_logs`` gets the decisions (signals sent or shadowed, order fates, fills), faults and
whatever the strategy itself logs through ``ctx.log``.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polybot.storage.duck_owner import DuckWriter
from polybot.storage.duck_schema import STRATEGY_LOG


def utc_now() -> datetime:
    """Return naive UTC now (DuckDB TIMESTAMP columns hold UTC by convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Logbook:
    """Own ``strategy_logs.duckdb`` and write runs and decisions to it."""

    def __init__(self, path: Path, *, flush_interval_s: float = 0.5) -> None:
        self.writer = DuckWriter(path, STRATEGY_LOG, flush_interval_s=flush_interval_s)
        self.writer.start()
        self.rows = 0

    def start_run(self, strategy: str, mode: str, config_hash: str, config: str) -> str:
        """Record a new run of ``strategy``; return its run id."""
        run_id = uuid.uuid4().hex
        self.writer.append(
            "strategy_runs",
            (run_id, strategy, mode, config_hash, config, utc_now(), None, "RUNNING", os.getpid()),
        )
        self.writer.flush("strategy_runs")  # runs are rare: make a new one visible at once
        return run_id

    def end_run(self, run_id: str, status: str) -> None:
        """Close a run with its final status."""
        self.writer.execute(
            "UPDATE strategy_runs SET ended_at = ?, status = ? WHERE run_id = ?",
            [utc_now(), status, run_id],
        )

    def log(
        self, run_id: str, strategy: str, level: str, message: str, data: dict[str, Any] | None
    ) -> None:
        """Append one decision or message of a run."""
        payload = json.dumps(data, default=str) if data else ""
        self.writer.append("strategy_logs", (run_id, strategy, utc_now(), level, message, payload))
        self.rows += 1

    def close(self) -> None:
        """Flush, checkpoint and release the file."""
        self.writer.close()


class StrategyLogHandler(logging.Handler):
    """Copy records of ``polybot.strategy.<instance>`` loggers (``ctx.log``) into the logbook."""

    def __init__(self, logbook: Logbook, runs: dict[str, str]) -> None:
        super().__init__(logging.DEBUG)
        self._logbook = logbook
        self._runs = runs  # instance name → current run id (owned by the runner)

    def emit(self, record: logging.LogRecord) -> None:
        """Append the record to the instance's current run (dropped if it has none)."""
        name = record.name.removeprefix("polybot.strategy.")
        run_id = self._runs.get(name)
        if run_id is not None:
            self._logbook.log(run_id, name, record.levelname, record.getMessage(), None)
