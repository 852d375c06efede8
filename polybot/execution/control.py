"""Runtime control of the executor: risk limits, kill switch, strategy modes and cancels.

The contract is the state service's (``polybot.statecmd``; docs/operations-services.md):

* It persists first — ``data/risk_state.json`` (risk overrides, incl. the kill switch) and
  ``data/strategy_modes.json`` (``live``/``shadow`` per strategy) — then forwards a ``Command``
  frame to the executor's PULL socket, which also carries signals. So a command given while the
  executor is down still holds when it starts: the executor reads both files on start.
* Commands: ``kill_switch {on, reason}``, ``set_risk_limits {limits}`` (the full effective
  limits), ``cancel_all {strategy?, market_id?}``, and ``cancel_order {client_order_id}`` (the
  engine's ``ExecutorLink``).
* The executor answers each on ``events.pub`` with ``command_applied`` (``request_id``,
  ``command``, ``result``) or ``command_failed`` (``error``). Handling is idempotent by
  ``request_id``: a resent command gets the first answer again and is not re-applied.

Where a strategy's mode comes from: ``data/strategy_modes.json`` only (written by the state
service's ``set_strategy_mode``), re-read whenever the file is replaced. A strategy with no entry
there — one never seen before — is in **shadow** until an operator enables it as ``live``: a new
strategy must prove itself before it can trade. (The executor spells that default out itself
rather than rely on ``StrategyModes.mode()``'s, so the safe default cannot be lost by accident.)
A shadow strategy's signals are validated and risk-checked, their would-be fate recorded and
announced, and nothing reaches the venue. A strategy whose latest ``strategy_configs`` row is
disabled is refused outright.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from polybot.bus.messages import Event
from polybot.core.errors import ConfigError
from polybot.risk import RiskLimits
from polybot.statecmd import files
from polybot.storage.models import StrategyConfig

log = logging.getLogger(__name__)

ANSWER_CACHE = 1024
_LATEST_ENABLED = (
    select(StrategyConfig.is_enabled)
    .where(StrategyConfig.strategy == bindparam("strategy"))
    .order_by(StrategyConfig.id.desc())
    .limit(1)
)
# Orders a person places by hand (the API's order ticket, authenticated by the API token) are
# not an automated strategy: they trade live unless explicitly put in shadow.
MANUAL_STRATEGY = "manual"
APPLIED = "command_applied"
FAILED = "command_failed"


def startup_limits(configured: RiskLimits, data_dir: Path) -> RiskLimits:
    """Return the configured limits with the state service's persisted overrides applied."""
    try:
        return files.effective_limits(configured, files.read_risk_state(data_dir))
    except ConfigError as exc:
        # A broken overrides file must not leave us trading without the operator's changes.
        log.error("risk overrides unreadable (%s): starting with the kill switch on", exc)
        return configured.model_copy(update={"kill_switch": True})


@dataclass(slots=True)
class Controls:
    """Effective risk limits, strategy modes, and the answers to recent commands."""

    limits: RiskLimits
    data_dir: Path
    sessions: sessionmaker[Session]
    answers: OrderedDict[str, Event] = field(default_factory=OrderedDict)
    _modes: files.StrategyModes = field(default_factory=files.StrategyModes)
    _modes_stamp: tuple[int, int, int] = (-1, -1, -1)
    # Changes whenever another connection commits (``OrderStore.data_version``); None: no cache.
    db_version: Callable[[], int] | None = None
    _enabled: dict[str, bool] = field(default_factory=dict)  # strategy → disabled
    _enabled_version: int | None = None

    def set_limits(self, raw: Any) -> str:
        """Replace the limits with ``raw`` (validated); return a summary (or raise ValueError)."""
        if not isinstance(raw, dict):
            raise ValueError("args.limits must be a map of RiskLimits fields")
        try:
            self.limits = RiskLimits.model_validate({**self.limits.model_dump(), **raw})
        except ValidationError as exc:
            raise ValueError(f"invalid limits: {exc.errors()[0]['msg']}") from None
        return "limits updated"

    def set_kill_switch(self, on: bool) -> None:
        """Turn the kill switch on or off."""
        self.limits = self.limits.model_copy(update={"kill_switch": on})

    def is_shadow(self, strategy: str) -> bool:
        """Return True unless the strategy is enabled as ``live`` (re-reads the file when it changed).

        A strategy missing from the modes file is new: it runs in shadow until enabled as live.
        Hand-placed orders (``MANUAL_STRATEGY``) are live unless the file says ``shadow``.
        """
        path = self.data_dir / files.STRATEGY_MODES_FILE
        try:
            info = path.stat()
            # The state service replaces the file atomically: a new inode on every write, so two
            # writes within one mtime tick are still told apart.
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp != self._modes_stamp:
            try:
                self._modes = files.read_strategy_modes(self.data_dir)
            except ConfigError as exc:
                log.error("strategy modes unreadable (%s); keeping the previous ones", exc)
            self._modes_stamp = stamp
        default = "live" if strategy == MANUAL_STRATEGY else "shadow"
        return self._modes.modes.get(strategy, default) != "live"

    def is_disabled(self, strategy: str) -> bool:
        """Return True when the strategy's latest ``strategy_configs`` row is disabled.

        Other processes (the API, a notebook) write ``strategy_configs``; the answers are cached
        until ``db_version`` says another connection committed, which costs ~3 µs instead of a
        query (~0.1–0.5 ms) on every signal.
        """
        version = self.db_version() if self.db_version is not None else None
        if version is None or version != self._enabled_version:
            self._enabled.clear()
            self._enabled_version = version  # read before the query: a later commit re-reads
        disabled = self._enabled.get(strategy)
        if disabled is None:
            engine = self.sessions.kw["bind"]
            with engine.connect() as connection:
                latest = connection.execute(_LATEST_ENABLED, {"strategy": strategy}).scalar()
            disabled = self._enabled[strategy] = latest is not None and not latest
        return disabled

    def answered(self, request_id: str) -> Event | None:
        """Return the answer already given to ``request_id`` (a resent command), if any."""
        return self.answers.get(request_id)

    def remember(self, request_id: str, answer: Event) -> None:
        """Keep the answer to ``request_id`` for resends (bounded)."""
        self.answers[request_id] = answer
        if len(self.answers) > ANSWER_CACHE:
            self.answers.popitem(last=False)
