"""Storage: SQLite (``polybot.db``) for operational state, DuckDB for analytics.

* ``polybot.storage.migrate``: ``init_db``, ``upgrade``, ``downgrade``, ``current_revision``,
  ``db_stats`` (Alembic scripts packaged in ``migrations/``).
* ``polybot.storage.sqlite``: ``make_engine`` (WAL, foreign keys, busy timeout, BEGIN IMMEDIATE),
  ``make_session_factory``.
* ``polybot.storage.models`` / ``types`` / ``journal``: the schema, exact Decimal columns and the
  signal journal / order intent / dead letter / audit records.
* ``polybot.storage.duck_owner``: ``DuckWriter``, the single owning writer of a DuckDB file;
  ``duck_query``: its read-only SQL endpoint; ``duck_read``: how every other process reads.

See docs/storage.md.
"""
