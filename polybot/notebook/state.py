"""The state service from a notebook: positions, orders, PnL, risk and the kill switch.

Queries and commands are ``Command`` frames over REQ/REP to ``bus.state_req``. Commands that
change state (the kill switch) carry the local token from ``data/api_token`` — a file only this
user can read — so a notebook on this machine may flip the switch and nothing else may.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from polybot.bus.endpoints import Requester
from polybot.config import Settings
from polybot.core.errors import BusError, ConfigError, PolybotError
from polybot.notebook.connection import not_running_error
from polybot.notebook.display import GREEN, RED, Frame, Markup, badge, key_values
from polybot.statecmd.token import read_token

NUMERIC = (
    "size",
    "avg_price",
    "realized_pnl",
    "fees_paid",
    "price",
    "original_size",
    "size_matched",
    "avg_fill_price",
    "fee",
)


class StateCommandFailed(PolybotError):
    """The state service answered, but refused or failed the request (the message says why)."""


class RiskState:
    """The effective risk limits, the kill switch and how close the book is to each limit."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def kill_switch(self) -> bool:
        """Return True while the kill switch is on (no new orders)."""
        return bool(self.data.get("kill_switch", False))

    def __repr__(self) -> str:
        return (
            f"RiskState(kill_switch={self.kill_switch}, exposure={self.data.get('total_exposure')})"
        )

    def _repr_html_(self) -> str:
        switch = badge("ON — no new orders", RED) if self.kill_switch else badge("off", GREEN)
        items: list[tuple[str, object]] = [("kill switch", Markup(switch))]
        keys = ("open_orders", "total_exposure", "daily_pnl", "daily_loss_headroom")
        items.extend((k.replace("_", " "), self.data[k]) for k in keys if k in self.data)
        limits = self.data.get("limits")
        if isinstance(limits, dict):
            items.extend(
                (f"limit · {k}", v) for k, v in sorted(limits.items()) if k != "kill_switch"
            )
        return key_values("risk", items)


class StateClient:
    """A REQ socket to the state service with typed helpers."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._requester: Requester | None = None

    def call(
        self,
        command: str,
        args: dict[str, Any] | None = None,
        *,
        authenticated: bool = False,
        timeout: float = 5.0,
    ) -> Any:
        """Send one command and return its ``result``; raise on refusal or silence."""
        token = ""
        if authenticated:
            try:
                token = read_token(self._settings.data_dir.resolve())
            except ConfigError as exc:
                raise not_running_error(self._settings, "state_req", str(exc)) from None
        if self._requester is None:
            self._requester = Requester(self._settings.bus.state_req)
        try:
            response = self._requester.call(command, args or {}, token=token, timeout=timeout)
        except BusError as exc:
            raise not_running_error(self._settings, "state_req", str(exc)) from None
        if not response.ok:
            raise StateCommandFailed(f"{command}: {response.error}")
        return response.result

    def positions(self, strategy: str | None = None, *, include_closed: bool = False) -> Frame:
        """Return open positions (all strategies unless one is named)."""
        args: dict[str, Any] = {"all": include_closed}
        if strategy:
            args["strategy"] = strategy
        return Frame(
            _frame(self.call("positions", args)), "positions", empty_hint="no open positions"
        )

    def orders(self, status: str = "open", strategy: str | None = None, limit: int = 200) -> Frame:
        """Return orders (``status``: ``open``, ``all`` or a venue status such as ``MATCHED``)."""
        args: dict[str, Any] = {"status": status, "limit": limit}
        if strategy:
            args["strategy"] = strategy
        return Frame(
            _frame(self.call("orders", args)), f"orders ({status})", empty_hint="no orders"
        )

    def trades(self, strategy: str | None = None, limit: int = 200) -> Frame:
        """Return our fills, newest first."""
        args: dict[str, Any] = {"limit": limit}
        if strategy:
            args["strategy"] = strategy
        return Frame(_frame(self.call("trades", args)), "fills", empty_hint="no fills yet")

    def pnl(self) -> Frame:
        """Return realized/unrealized PnL, fees and exposure per strategy."""
        result = self.call("pnl")
        rows = [
            {"strategy": name, **values}
            for name, values in dict(result.get("by_strategy", {})).items()
        ]
        frame = _frame(rows)
        return Frame(frame, "PnL by strategy", empty_hint="no positions yet")

    def risk(self) -> RiskState:
        """Return the risk limits, the kill switch and current usage."""
        return RiskState(dict(self.call("risk")))

    def strategies(self) -> Frame:
        """Return the configured strategy instances with their mode and runner state."""
        result = self.call("strategies")
        rows = result.get("strategies", []) if isinstance(result, dict) else []
        runner = result.get("runner", "?") if isinstance(result, dict) else "?"
        return Frame(
            _frame(rows), f"strategies (runner {runner})", empty_hint="no strategy is configured"
        )

    def cancel_all(self, strategy: str | None = None, market_id: str | None = None) -> Any:
        """Cancel every resting order (of one strategy / market when given)."""
        args = {k: v for k, v in (("strategy", strategy), ("market_id", market_id)) if v}
        return self.call("cancel_all", args, authenticated=True)

    def kill_switch(self, on: bool = True, reason: str = "from a notebook") -> Any:
        """Turn the kill switch on (no new orders anywhere) or off; return the service's answer."""
        return self.call("kill_switch", {"on": on, "reason": reason}, authenticated=True)

    def close(self) -> None:
        """Close the socket."""
        if self._requester is not None:
            self._requester.close()
            self._requester = None


def _frame(rows: Any) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows or []))
    for column in NUMERIC:
        if column in frame.columns:
            # Exact amounts travel as strings; floats are fine for looking at them.
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame
