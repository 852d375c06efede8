"""market_correlations: rolling, time-aligned correlations of market price changes, in DuckDB.

For the window ``[end − window_s, end)``:

1. Each market is represented by one token: its YES token when the caller knows it
   (``reference_tokens``), else its smallest token id seen — so the sign is stable across runs.
2. Its mids are sampled on a common grid of ``step_s`` buckets (last mid in each bucket) and
   forward-filled, so two markets that tick at different moments are compared at the same times.
3. Returns are the bucket-to-bucket *changes* of the mid (probabilities live in [0, 1]; a
   percentage change near 0 would explode), and each pair's Pearson correlation is taken over
   the buckets where both have a return. Pairs with fewer than ``min_observations`` or no
   variance are left out.

Only the ``max_markets`` most active markets of the window are paired (n² pairs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

_SQL = """
WITH refs AS (
    SELECT p.market_id, coalesce(any_value(r.token_id), min(p.token_id)) AS token_id
    FROM price_history p LEFT JOIN reference_tokens r ON r.market_id = p.market_id
    WHERE p.ts >= $start AND p.ts < $end
    GROUP BY p.market_id
),
active AS (
    SELECT refs.market_id, refs.token_id, count(*) AS ticks
    FROM refs JOIN price_history p ON p.market_id = refs.market_id AND p.token_id = refs.token_id
    WHERE p.ts >= $start AND p.ts < $end
    GROUP BY ALL ORDER BY ticks DESC, refs.market_id LIMIT $max_markets
),
sampled AS (
    SELECT p.market_id, time_bucket(to_seconds($step), p.ts, $start) AS bucket,
           arg_max(p.mid, p.ts) AS mid
    FROM price_history p JOIN active a ON a.market_id = p.market_id AND a.token_id = p.token_id
    WHERE p.ts >= $start AND p.ts < $end
    GROUP BY ALL
),
grid AS (
    SELECT a.market_id, g.bucket
    FROM active a, (SELECT unnest(range($start, $end, to_seconds($step))) AS bucket) g
),
filled AS (
    SELECT g.market_id, g.bucket,
           last_value(s.mid IGNORE NULLS) OVER (
               PARTITION BY g.market_id ORDER BY g.bucket
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS mid
    FROM grid g LEFT JOIN sampled s ON s.market_id = g.market_id AND s.bucket = g.bucket
),
changes AS (
    SELECT market_id, bucket,
           mid - lag(mid) OVER (PARTITION BY market_id ORDER BY bucket) AS change
    FROM filled
)
SELECT a.market_id AS market_a, b.market_id AS market_b,
       corr(a.change, b.change) AS correlation, count(*) AS observations
FROM changes a JOIN changes b ON a.bucket = b.bucket AND a.market_id < b.market_id
WHERE a.change IS NOT NULL AND b.change IS NOT NULL
GROUP BY ALL
HAVING count(*) >= $min_observations AND isfinite(corr(a.change, b.change))
ORDER BY market_a, market_b
"""


def compute_correlations(
    con: Any,
    *,
    end: datetime,
    window_s: int,
    step_s: int,
    min_observations: int = 10,
    max_markets: int = 50,
    reference_tokens: Mapping[str, str] | None = None,
) -> list[tuple[Any, ...]]:
    """Return ``market_correlations`` rows ``(ts, window_s, a, b, correlation, observations)``.

    ``con`` is a DuckDB connection on the owned file (a cursor of the writer); ``end`` is naive
    UTC and becomes the rows' ``ts``.
    """
    refs = reference_tokens or {}
    con.register(
        "reference_tokens",
        pa.table(
            {"market_id": list(refs), "token_id": list(refs.values())},
            schema=pa.schema([("market_id", pa.string()), ("token_id", pa.string())]),
        ),
    )
    try:
        rows = con.execute(
            _SQL,
            {
                "start": end - timedelta(seconds=window_s),
                "end": end,
                "step": step_s,
                "max_markets": max_markets,
                "min_observations": min_observations,
            },
        ).fetchall()
    finally:
        con.unregister("reference_tokens")
    return [(end, window_s, a, b, float(c), int(n)) for a, b, c, n in rows]
