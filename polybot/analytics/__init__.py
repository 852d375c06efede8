"""Analytics: the single owner of ``analytics.duckdb`` and its read path.

* ``tables`` — the file's schema (the storage schema plus what the statistics need).
* ``ingest`` — price-bus and events-bus messages → batched rows (price_history, trade_history,
  fills, strategy activity); malformed frames and unusable events are dead-lettered.
* ``stats`` — strategy_stats per strategy and UTC day: PnL, win rate, Sharpe, max drawdown.
* ``correlations`` — rolling, time-aligned return correlations computed in DuckDB.
* ``queries`` — named queries (OHLC, latest prices, correlations, PnL) served over REQ/REP.
* ``owner`` — all of the above assembled (what ``services/analytics`` runs).

See docs/services-data.md.
"""
