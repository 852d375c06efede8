"""strategy_stats on known fills: every number checked against a hand computation."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import pytest

from polybot.analytics.stats import FillInput, StatsJob, daily_stats, mark
from polybot.analytics.tables import ANALYTICS_TABLES, STRATEGY_STATS_CURRENT, upgrade_sql
from polybot.storage.duck_owner import DuckWriter

D1 = datetime(2026, 11, 20)
D2 = datetime(2026, 11, 21)


def _at(day: datetime, hour: int) -> datetime:
    return day.replace(hour=hour)


# (strategy, token, side, price, size, fee, ts)
FILLS = [
    ("s1", "T", "BUY", 0.40, 100.0, 0.10, _at(D1, 10)),
    ("s1", "T", "BUY", 0.50, 100.0, 0.10, _at(D1, 11)),  # 200 @ 0.45
    ("s1", "T", "SELL", 0.60, 50.0, 0.05, _at(D1, 12)),  # +7.50 − 0.05 = 7.45
    ("s1", "T", "SELL", 0.35, 100.0, 0.10, _at(D1, 13)),  # −10.00 − 0.10 = −10.10; 50 @ 0.45 left
    ("s2", "U", "BUY", 0.20, 10.0, 0.0, _at(D1, 14)),
    ("s1", "T", "SELL", 0.70, 80.0, 0.0, _at(D2, 9)),  # closes 50: +12.50; short 30 @ 0.70
    ("s1", "T", "BUY", 0.60, 30.0, 0.0, _at(D2, 10)),  # short closed: +3.00
]


def test_daily_stats_on_known_fills_match_hand_computation() -> None:
    days = daily_stats(FillInput(*row) for row in FILLS)

    day1 = days[("s1", D1)]
    assert day1.fills == 4
    assert day1.volume == pytest.approx(40 + 50 + 30 + 35)
    assert day1.fees == pytest.approx(0.35)
    assert day1.realized_pnl == pytest.approx(7.5 - 10.0 - 0.35)
    assert day1.trade_pnls == pytest.approx([7.45, -10.10])
    assert (day1.trades, day1.wins, day1.win_rate) == (2, 1, 0.5)
    expected_sharpe = ((7.45 - 10.10) / 2) / (abs(7.45 + 10.10) / math.sqrt(2))
    assert day1.sharpe == pytest.approx(expected_sharpe)
    # curve −0.10, −0.20, 7.25, −2.85: the fall from the 7.25 peak is the deepest
    assert day1.max_drawdown == pytest.approx(10.10)
    assert day1.positions == {"T": pytest.approx((50.0, 0.45))}

    day2 = days[("s1", D2)]
    assert day2.trade_pnls == pytest.approx([12.5, 3.0])
    assert day2.realized_pnl == pytest.approx(15.5)
    assert (day2.win_rate, day2.max_drawdown, day2.positions) == (1.0, 0.0, {})
    assert day2.sharpe == pytest.approx(7.75 / (9.5 / math.sqrt(2)))

    other = days[("s2", D1)]
    assert (other.fills, other.trades, other.win_rate, other.sharpe) == (1, 0, None, None)


def test_mark_values_long_and_short_positions_at_mids() -> None:
    unrealized, exposure = mark(
        {"T": (50.0, 0.45), "S": (-10.0, 0.70), "X": (5.0, 0.1)}, {"T": 0.55, "S": 0.60}
    )
    assert unrealized == pytest.approx(50 * 0.10 + (-10) * (0.60 - 0.70))
    assert exposure == pytest.approx(50 * 0.55 + 10 * 0.60)


def test_stats_job_writes_versions_from_effective_fills(tmp_path: Path) -> None:
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS_TABLES) as writer:
        for statement in upgrade_sql():
            writer.execute(statement)
        received = datetime(2026, 11, 22)
        rows = []
        for index, (strategy, token, side, price, size, fee, ts) in enumerate(FILLS):
            rows.append(
                (
                    strategy,
                    f"f{index}",
                    f"o{index}",
                    "M",
                    token,
                    side,
                    price,
                    size,
                    fee,
                    "TAKER",
                    "MATCHED",
                    ts,
                    received,
                )
            )
        # A later status of the same fill must not count twice; a failed fill not at all.
        rows.append(
            (
                "s1",
                "f0",
                "o0",
                "M",
                "T",
                "BUY",
                0.40,
                100.0,
                0.10,
                "TAKER",
                "CONFIRMED",
                _at(D1, 10),
                received.replace(minute=1),
            )
        )
        rows.append(
            (
                "s1",
                "bad",
                "o9",
                "M",
                "T",
                "BUY",
                0.10,
                999.0,
                0.0,
                "TAKER",
                "FAILED",
                _at(D1, 12),
                received,
            )
        )
        writer.extend("fills", rows)
        writer.extend(
            "price_history",
            [("M", "T", 0.54, 0.56, 0.55, _at(D1, 20)), ("M", "T", 0.90, 0.92, 0.91, _at(D2, 1))],
        )
        writer.extend(
            "strategy_activity",
            [
                ("s1", "signal", "sig1", _at(D1, 9)),
                ("s1", "signal", "sig1", _at(D1, 9)),
                ("s1", "signal", "sig2", _at(D1, 9)),
                ("s1", "order", "o1", _at(D1, 9)),
            ],
        )
        job = StatsJob(writer)
        now = datetime(2026, 11, 22, 12)

        assert job.run(None, now) == 3
        assert job.run(None, now.replace(hour=13)) == 0  # nothing changed: no new version

        con = writer.cursor()
        got = con.execute(
            "SELECT strategy, ts, signals, orders, fills, realized_pnl, unrealized_pnl, exposure, "
            f"trades, wins, win_rate, max_drawdown FROM ({STRATEGY_STATS_CURRENT}) "
            "ORDER BY strategy, ts"
        ).fetchall()
        con.close()
    s1d1, s1d2, s2d1 = got
    assert s1d1[:5] == ("s1", D1, 2, 1, 4)
    assert s1d1[5] == pytest.approx(-2.85)
    # 50 shares @ 0.45 marked at the day's last mid 0.55 (not the next day's 0.91)
    assert s1d1[6] == pytest.approx(5.0)
    assert s1d1[7] == pytest.approx(27.5)
    assert s1d1[8:] == (2, 1, 0.5, pytest.approx(10.10))
    assert s1d2[4:6] == (2, pytest.approx(15.5))
    assert s2d1[:5] == ("s2", D1, 0, 0, 1)
