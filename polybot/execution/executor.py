"""The executor's pipeline: signals from the PULL socket to a recorded fate, in arrival order.

For each signal: validate it against its market → risk gate → shadow check → commit the decision
(a refusal; or the accepted signal together with the order intent, carrying the order id it will
have) → announce → submit under the venue client's rate limiter. Decisions are taken one at a
time, in order, so each risk check sees every order accepted before it (a journalled intent
counts as open at once). Submits run concurrently (bounded): the next signal does not wait for
the venue's answer to the previous one. What happens afterwards (fills, cancels) arrives through
the :class:`~polybot.execution.tracking.Tracker`. Every step that can fail ends in a recorded fate
and an event; nothing raises out of :meth:`Executor.handle_message`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from polybot.bus import codec
from polybot.bus.messages import Command, Message, Signal
from polybot.core.clock import wall_ms
from polybot.core.errors import VenueError, WireError
from polybot.core.money import to_decimal
from polybot.execution import fates
from polybot.execution.books import BookKeeper
from polybot.execution.control import APPLIED, FAILED, Controls
from polybot.execution.faultpoints import fault_point
from polybot.execution.intake import (
    OrderPlan,
    Refusal,
    check_marketable,
    plan_order,
    with_signal_id,
)
from polybot.execution.markets import MarketCatalog
from polybot.execution.orders import DuplicateSignal, created_ms
from polybot.execution.reconcile import Reconciler
from polybot.execution.submits import Submits
from polybot.execution.tracking import Tracker
from polybot.execution.venue import SubmitUnknown, Venue
from polybot.risk import Rejection, check_order
from polybot.storage.journal import record_dead_letter
from polybot.storage.models import OrderStatus, SignalStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """Behaviour switches of one executor."""

    mode: str = "live"  # "paper" or "live" (only used in announcements; the venue decides)
    cancel_on_shutdown: bool = True
    source: str = "executor"
    # Concurrent venue calls (the rate limiter paces them further). Few: each is a keep-alive
    # connection, and the HTTP pool's bookkeeping grows with every connection it holds.
    max_inflight_submits: int = 4


class Executor:
    """Signals in, orders out, every fate recorded and announced."""

    def __init__(
        self,
        *,
        venue: Venue,
        catalog: MarketCatalog,
        books: BookKeeper,
        tracker: Tracker,
        controls: Controls,
        config: ExecutorConfig,
    ) -> None:
        self.venue = venue
        self.catalog = catalog
        self.books = books
        self.tracker = tracker
        self.store = tracker.store
        self.controls = controls
        self.config = config
        self.reconciler = Reconciler(venue, catalog, tracker)
        self.submits = Submits(config.max_inflight_submits)
        self._recent_signals: dict[str, None] = {}  # ids decided by this process (bounded)

    # ---- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the venue and reconcile (the limits were read from the state files)."""
        await self.venue.start(self.tracker)
        await self.reconciler.run()
        await self.tracker.settler.sweep(self.catalog, everything=True)
        if self.controls.limits.kill_switch:
            await self.cancel_everything("kill switch is on")

    async def stop(self) -> None:
        """Let submits in flight finish, cancel resting orders if configured, disconnect."""
        await self.submits.drain()
        await self.catalog.aclose()
        if self.config.cancel_on_shutdown:
            try:
                await self.cancel_everything("executor shutdown")
            except VenueError as exc:
                log.warning("could not cancel resting orders on shutdown: %s", exc)
        await self.venue.close()

    def on_market_data(self, message: Message) -> None:
        """Feed one price-bus message to the books, the market cache and the (paper) venue."""
        self.books.on_message(message)
        self.catalog.on_message(message)
        self.venue.on_market_data(message)
        self.tracker.settler.on_message(message)

    # ---- intake -------------------------------------------------------------------------------
    def on_malformed(self, frame: bytes, error: WireError) -> None:
        """Dead-letter a frame that did not decode (the PULL socket's callback)."""
        self.dead_letter("signals.push", error.reason, frame)

    def dead_letter(self, source: str, reason: str, payload: bytes) -> None:
        """Store an unprocessable frame/signal with the reason, and announce it."""
        with self.store.sessions.begin() as session:
            letter = record_dead_letter(session, source=source, reason=reason, payload=payload)
            letter_id = letter.id
        self.tracker.count("dead_letters")
        self.tracker.publish(
            fates.system_event(
                fates.DEAD_LETTER, id=letter_id, source=source, reason=reason, size=len(payload)
            )
        )

    async def handle_message(self, message: Message) -> None:
        """Process one message from the PULL socket; never raises."""
        if isinstance(message, Command):
            try:
                await self.handle_command(message)
            except Exception as exc:  # a failing command must not stop the executor either
                log.exception("command %s failed", message.request_id)
                self.dead_letter("executor", f"command failed: {exc}", codec.encode(message))
            return
        if not isinstance(message, Signal):
            self.dead_letter(
                "signals.push",
                f"expected a signal, got {type(message).__name__}",
                codec.encode(message),
            )
            return
        signal = with_signal_id(message)
        try:
            await self.handle_signal(signal)
        except Exception as exc:  # one bad signal must not stop the executor
            log.exception("signal %s could not be processed", signal.signal_id)
            payload = codec.encode(signal)
            self.dead_letter("executor", f"{type(exc).__name__}: {exc}", payload)
            self.store.record_failure(_journal_fields(signal), f"internal error: {exc}", payload)

    async def handle_signal(self, signal: Signal) -> None:
        """Validate, risk-check, journal, announce and submit one signal."""
        self.tracker.count("signals")
        data = fates.signal_fields(signal)
        if signal.signal_id in self._recent_signals:
            self._repeat_fate(signal, data)
            return
        fields = _journal_fields(signal)
        payload = codec.encode(signal)
        try:
            plan = await self._decide(signal, data, fields, payload)
        except DuplicateSignal:
            self._repeat_fate(signal, data)
            return
        finally:
            self._note_decided(signal.signal_id)
        if plan is None:
            return
        fault_point("after_journal")
        self.submits.start(self._submit_planned(plan))
        await asyncio.sleep(0)  # let the submit reach the wire before the next signal is read

    async def _decide(
        self, signal: Signal, data: dict[str, Any], fields: dict[str, Any], payload: bytes
    ) -> OrderPlan | None:
        """Take the signal's decision and commit it; return the order to submit, if any."""
        plan = await self._plan(signal)
        if isinstance(plan, Refusal):
            self._refuse(fields, payload, data, plan.rule, plan.detail, plan.numbers)
            return None
        rejection = self._risk(plan)
        if self.controls.is_shadow(signal.strategy):
            self._shadow(fields, payload, data, rejection)
            return None
        if rejection is not None:
            self._refuse(fields, payload, data, rejection.rule, rejection.detail, rejection.numbers)
            return None
        created = wall_ms()
        venue_order_id = self.venue.order_id_for(plan, created)
        self.store.journal_intent(
            fields, payload, plan, venue_order_id=venue_order_id, created=created
        )
        self.tracker.remember(signal.signal_id, data)
        self.tracker.publish(
            fates.fate_event(fates.SIGNAL_ACCEPTED, data, "accepted", mode=self.config.mode)
        )
        return plan

    def _repeat_fate(self, signal: Signal, data: dict[str, Any]) -> None:
        """A resend (the sender timed out waiting): repeat the recorded fate, act no further."""
        entry = self.store.signal(signal.signal_id)
        status = entry.status if entry is not None else SignalStatus.RECEIVED
        self.tracker.publish(
            fates.fate_event(
                fates.SIGNAL_REJECTED if status == SignalStatus.REJECTED else fates.SIGNAL_ACCEPTED,
                data,
                "duplicate",
                status=status,
                detail=entry.reason if entry is not None else "",
            )
        )

    def _note_decided(self, signal_id: str) -> None:
        self._recent_signals[signal_id] = None
        if len(self._recent_signals) > RECENT_SIGNALS:
            del self._recent_signals[next(iter(self._recent_signals))]

    async def _plan(self, signal: Signal) -> OrderPlan | Refusal:
        if self.controls.is_disabled(signal.strategy):
            return Refusal("strategy_disabled", "the strategy is disabled in strategy_configs")
        try:
            market = await self.catalog.get(signal.market_id, stale_ok=True)
        except VenueError as exc:
            return Refusal("venue_unavailable", f"market lookup failed: {exc}")
        plan = plan_order(signal, market)
        if isinstance(plan, Refusal) or market is None:
            return plan
        self.venue.add_market(market.market)
        try:
            snapshot = await self.books.ensure(
                plan.market_id, plan.token_id, self.controls.limits.stale_book_ms
            )
        except VenueError as exc:
            log.warning("no book for %s: %s", plan.token_id, exc)
            snapshot = None
        if snapshot is not None:
            self.venue.on_market_data(snapshot)
        refusal = check_marketable(plan, self.books.state(plan.token_id))
        return refusal if refusal is not None else plan

    def _risk(self, plan: OrderPlan) -> Rejection | None:
        portfolio = self.tracker.ledger.risk_view(
            self.tracker.balance, self.books.mid, self._describe, self.store.open_orders()
        )
        return check_order(
            plan.risk_intent(),
            self.controls.limits,
            portfolio,
            self.books.state(plan.token_id),
            wall_ms(),
        )

    def _describe(self, market_id: str, token_id: str) -> tuple[str, int]:
        market = self.catalog.cached(market_id)
        if market is None:
            return "", 0
        return market.event_id, market.outcome_index(token_id) or 0

    def _refuse(
        self,
        fields: dict[str, Any],
        payload: bytes,
        data: dict[str, Any],
        rule: str,
        detail: str,
        numbers: dict[str, str],
    ) -> None:
        self.store.record_decision(fields, SignalStatus.REJECTED, f"{rule}: {detail}", payload)
        self.tracker.count("signals_rejected")
        self.tracker.publish(
            fates.fate_event(
                fates.SIGNAL_REJECTED, data, "rejected", rule=rule, detail=detail, numbers=numbers
            )
        )

    def _shadow(
        self,
        fields: dict[str, Any],
        payload: bytes,
        data: dict[str, Any],
        rejection: Rejection | None,
    ) -> None:
        would_be = "accepted" if rejection is None else "rejected"
        reason = (
            "shadow: would be accepted"
            if rejection is None
            else f"shadow: would be rejected by {rejection.rule}"
        )
        self.store.record_decision(fields, SignalStatus.REJECTED, reason, payload)
        self.tracker.count("signals_shadowed")
        details: dict[str, Any] = {"would_be": would_be, "shadow": True}
        if rejection is not None:
            details.update(rule=rejection.rule, detail=rejection.detail, numbers=rejection.numbers)
        self.tracker.publish(fates.fate_event(fates.SIGNAL_SHADOWED, data, "shadow", **details))

    # ---- submit -------------------------------------------------------------------------------
    async def _submit_planned(self, plan: OrderPlan) -> None:
        client_order_id = plan.client_order_id
        try:
            await self.submit(plan, client_order_id)
        except Exception as exc:  # a task's failure must end in a fate, not in the loop's log
            log.exception("submit of %s failed", client_order_id)
            order = self.store.order(client_order_id=client_order_id)
            if order is not None:
                self.tracker.failed(order, f"internal error: {exc}", rule="internal_error")

    async def submit(self, plan: OrderPlan, client_order_id: str) -> None:
        """Send a journalled order; an unknown outcome is resolved by looking the order up."""
        order = self.store.order(client_order_id=client_order_id)
        assert order is not None
        created = created_ms(order)
        try:
            result = await self.venue.submit(plan, created)
        except SubmitUnknown as exc:
            log.warning("submit of %s is ambiguous (%s); looking it up", client_order_id, exc)
            self.tracker.count("submits_ambiguous")
            try:
                await self.reconciler.resolve(order)
            except VenueError as lookup_error:
                log.warning(
                    "lookup of %s failed (%s); periodic reconcile will retry",
                    client_order_id,
                    lookup_error,
                )
            return
        except VenueError as exc:
            self.tracker.failed(order, str(exc), rule=type(exc).__name__)
            return
        fault_point("after_submit")
        if result.status == "DUPLICATE":
            await self.reconciler.resolve(order)
        elif result.status == "UNMATCHED":
            self.tracker.placed(order, "LIVE")
            self.tracker.canceled(order, "unmatched remainder killed (FAK/FOK)")
        else:
            self.tracker.placed(order, result.status)

    # ---- commands -----------------------------------------------------------------------------
    async def handle_command(self, command: Command) -> None:
        """Apply one control command and answer it on the events bus (idempotent by id)."""
        previous = self.controls.answered(command.request_id)
        if previous is not None:
            self.tracker.publish(previous)
            return
        try:
            result = await self._apply(command)
        except (ValueError, VenueError) as exc:
            answer = fates.system_event(
                FAILED, request_id=command.request_id, command=command.command, error=str(exc)
            )
        else:
            answer = fates.system_event(
                APPLIED, request_id=command.request_id, command=command.command, result=result
            )
        self.tracker.count("commands")
        self.controls.remember(command.request_id, answer)
        self.tracker.publish(answer)

    async def _apply(self, command: Command) -> Any:
        args = command.args
        if command.command == "kill_switch":
            on = args.get("on")
            if not isinstance(on, bool):
                raise ValueError("args.on must be true or false")
            was_on = self.controls.limits.kill_switch
            self.controls.set_kill_switch(on)
            if on and not was_on:
                self.tracker.publish(
                    fates.system_event(
                        fates.RISK_HALT,
                        reason=str(args.get("reason", "")),
                        request_id=command.request_id,
                    )
                )
            canceled = await self.cancel_everything("kill switch") if on else 0
            return {"kill_switch": on, "canceled": canceled}
        if command.command == "set_risk_limits":
            self.controls.set_limits(args.get("limits"))
            return {"limits": self.controls.limits.model_dump(mode="json")}
        if command.command == "cancel_all":
            scope = {k: str(args[k]) for k in ("strategy", "market_id") if args.get(k)}
            return {"canceled": await self.cancel_everything("cancel_all command", **scope)}
        if command.command == "cancel_order":
            order = self.store.order(client_order_id=str(args.get("client_order_id", "")))
            if order is None or not order.venue_order_id:
                raise ValueError("no such order")
            ids = await self.venue.cancel([order.venue_order_id])
            if order.venue_order_id in ids:
                self.tracker.canceled(order, "cancel_order command")
            return {"canceled": len(ids)}
        raise ValueError(f"unknown executor command {command.command!r}")

    async def cancel_everything(
        self, reason: str, *, strategy: str = "", market_id: str = ""
    ) -> int:
        """Cancel our resting orders (all, or one strategy's / market's); return how many.

        Submits in flight finish first: an order still on its way would otherwise land after
        the cancel and rest at the venue.
        """
        await self.submits.drain()
        orders = self.store.orders([OrderStatus.LIVE, OrderStatus.PENDING_SUBMIT])
        if strategy or market_id:
            orders = [
                o
                for o in orders
                if (not strategy or o.strategy == strategy)
                and (not market_id or o.market_id == market_id)
            ]
            canceled = set(
                await self.venue.cancel([o.venue_order_id for o in orders if o.venue_order_id])
            )
        else:
            canceled = set(await self.venue.cancel_all())
        for order in orders:
            if order.venue_order_id in canceled:
                self.tracker.canceled(order, reason)
        return len(canceled)

    def balance_event(self) -> Message:
        """Return the ``balance`` event the state service serves as the balances query."""
        pnl = self.tracker.ledger.pnl(self.books.mid)
        return fates.system_event(
            "balance",
            account=self.venue.account,
            mode=self.config.mode,
            balance=self.tracker.balance,
            realized_pnl=pnl.realized,
            unrealized_pnl=pnl.unrealized,
            daily_pnl=pnl.daily,
            fees=pnl.fees,
        )


RECENT_SIGNALS = 10_000  # a resend is recognised without a query when it is this recent


def _journal_fields(signal: Signal) -> dict[str, Any]:
    return {
        "signal_id": signal.signal_id,
        "strategy": signal.strategy,
        "market_id": signal.market_id,
        "token_id": signal.token_id,
        "action": signal.action,
        "price_exact": _exact(signal.price),
        "size_exact": _exact(signal.size),
    }


def _exact(value: float) -> Decimal | None:
    try:
        return to_decimal(value)
    except ValueError:
        return None
