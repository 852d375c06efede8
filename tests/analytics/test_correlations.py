"""market_correlations computed in DuckDB, checked against numpy on the same aligned data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from polybot.analytics.correlations import compute_correlations
from polybot.analytics.tables import ANALYTICS_TABLES
from polybot.storage.duck_owner import DuckWriter

END = datetime(2026, 11, 24, 12, 0)
START = END - timedelta(hours=1)


def _series(seed: int, start: float) -> np.ndarray:
    return start + np.cumsum(np.random.default_rng(seed).normal(0, 0.01, 60))


def test_correlations_are_time_aligned_changes_with_yes_token_sign(tmp_path: Path) -> None:
    a, b = _series(1, 0.5), _series(2, 0.4)
    c = 0.3 + 0.5 * (a - 0.5)  # moves with A, so their changes correlate exactly
    rows = []
    for i in range(60):
        minute = START + timedelta(minutes=i)
        # Different tick moments inside each minute: the grid aligns them.
        rows.append(("mA", "a-yes", 0, 1, a[i], minute + timedelta(seconds=5)))
        rows.append(("mB", "b-no", 0, 1, 1 - b[i], minute + timedelta(seconds=40)))
        rows.append(("mB", "b-yes", 0, 1, b[i], minute + timedelta(seconds=40)))
        if i % 2 == 0:  # C ticks every other minute: forward-filled in between
            rows.append(("mC", "c-yes", 0, 1, c[i], minute + timedelta(seconds=59)))
    rows.append(("mA", "a-yes", 0, 1, 0.99, START - timedelta(minutes=5)))  # outside the window
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS_TABLES) as writer:
        writer.extend("price_history", rows)
        writer.flush()
        con = writer.cursor()
        got = compute_correlations(
            con,
            end=END,
            window_s=3600,
            step_s=60,
            min_observations=5,
            reference_tokens={"mB": "b-yes"},
        )
        default_sign = compute_correlations(
            con, end=END, window_s=3600, step_s=60, min_observations=5
        )
        con.close()
    pairs = {(row[2], row[3]): row for row in got}
    assert set(pairs) == {("mA", "mB"), ("mA", "mC"), ("mB", "mC")}
    ts, window, _, _, corr_ab, n_ab = pairs[("mA", "mB")]
    assert (ts, window, n_ab) == (END, 3600, 59)
    assert corr_ab == pytest.approx(np.corrcoef(np.diff(a), np.diff(b))[0, 1])
    filled_c = np.array([c[i - i % 2] for i in range(60)])
    assert pairs[("mA", "mC")][4] == pytest.approx(np.corrcoef(np.diff(a), np.diff(filled_c))[0, 1])
    # Without the YES mapping mB is represented by its smallest token id, "b-no": the sign flips.
    flipped = {(row[2], row[3]): row[4] for row in default_sign}
    assert flipped[("mA", "mB")] == pytest.approx(-corr_ab)


def test_flat_or_late_markets_are_left_out(tmp_path: Path) -> None:
    rows = [("flat", "f", 0, 1, 0.5, START + timedelta(minutes=i)) for i in range(60)]
    rows += [
        ("moving", "m", 0, 1, 0.5 + 0.001 * (i % 7), START + timedelta(minutes=i))
        for i in range(60)
    ]
    # "late" only starts ticking 4 minutes before the end: 3 changes, below min_observations
    rows += [("late", "l", 0, 1, 0.1 * i, START + timedelta(minutes=56 + i)) for i in range(4)]
    with DuckWriter(tmp_path / "a.duckdb", ANALYTICS_TABLES) as writer:
        writer.extend("price_history", rows)
        writer.flush()
        con = writer.cursor()
        got = compute_correlations(con, end=END, window_s=3600, step_s=60, min_observations=10)
        con.close()
    # flat has no variance, late too few aligned changes: no pair qualifies
    assert got == []
