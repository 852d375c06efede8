"""SIGTERM: resting orders cancelled (when configured), exit 0, no child left, sockets released.

Each case runs its own executor (it is stopped on purpose) next to the module's venue, trading
with the venue's wallet. A second executor is started on the very same ipc addresses right after
the first one exits: it must bind and serve at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from executor_stack import Stack, VenueProcess, wait_until
from sqlalchemy import select
from test_live_executor import below_bid, command, signal

from polybot.storage.models import Order, OrderStatus


def children(pid: int) -> set[int]:
    """Return every live descendant of ``pid`` (from /proc; zombies do not count)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def own_stack(root: Path, venue: VenueProcess, name: str, cancel_on_shutdown: bool) -> Stack:
    case_root = root / name
    (case_root / "data").mkdir(parents=True)
    (case_root / "data" / "local_wallet.json").write_bytes(
        (root / "data" / "local_wallet.json").read_bytes()
    )
    return Stack(
        case_root,
        venue,
        mode="live",
        env={"POLYBOT_CANCEL_ON_SHUTDOWN": str(cancel_on_shutdown).lower()},
        live=[name],
    )


@pytest.mark.parametrize("cancel_on_shutdown", [True, False])
def test_sigterm_with_resting_orders(
    root: Path, venue: VenueProcess, cancel_on_shutdown: bool
) -> None:
    name = f"shutdown-{cancel_on_shutdown}".lower()
    stack = own_stack(root, venue, name, cancel_on_shutdown)
    try:
        stack.start()
        venue_ids = []
        for index in (30, 31):
            market = venue.tradable_markets(neg_risk=False, tick="0.01")[
                index + int(cancel_on_shutdown) * 2
            ]
            yes = market["tokens"][0]["token_id"]
            sig = signal(market, price=float(below_bid(stack, yes)), size=6, strategy=name)
            stack.send(sig)
            placed = stack.fate(sig.signal_id, "order_placed", "signal_rejected", "order_failed")
            assert placed.event_type == "order_placed", (placed.data.get("rule"), placed.data)
            venue_ids.append(placed.data["order_id"])
        assert set(venue_ids) <= venue.open_order_ids(stack.data_dir)
        assert stack.proc is not None
        family = {stack.proc.pid, *children(stack.proc.pid)}

        assert stack.terminate() == 0

        assert not [pid for pid in family if alive(pid)]
        for endpoint in ("signals", "events"):
            assert not (stack.ipc / endpoint).exists(), f"ipc socket {endpoint} left behind"
        still_open = venue.open_order_ids(stack.data_dir)
        with stack.sessions() as session:
            rows = session.scalars(select(Order).where(Order.venue_order_id.in_(venue_ids))).all()
            statuses = {row.status for row in rows}
        if cancel_on_shutdown:
            assert not set(venue_ids) & still_open
            assert statuses == {OrderStatus.CANCELED}
        else:
            assert set(venue_ids) <= still_open
            assert statuses == {OrderStatus.LIVE}

        # A new executor binds the same addresses at once and serves.
        stack.start()
        answer = command(stack, "cancel_all", strategy=name)
        assert answer.event_type == "command_applied"
        if cancel_on_shutdown:
            assert answer.data["result"]["canceled"] == 0
        # Left resting, the orders are cancelled now — by this command, or already by the
        # venue's dead-man switch (no heartbeat for 10 s) and then reconciled as CANCELED.
        assert not set(venue_ids) & venue.open_order_ids(stack.data_dir)

        def all_canceled() -> bool:
            with stack.sessions() as session:
                rows = session.scalars(
                    select(Order).where(Order.venue_order_id.in_(venue_ids))
                ).all()
                return {row.status for row in rows} == {OrderStatus.CANCELED}

        wait_until(all_canceled, 60.0, "the orders to be CANCELED in SQLite")
        assert stack.terminate() == 0
    finally:
        stack.close()
