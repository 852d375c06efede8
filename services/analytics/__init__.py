"""The analytics service: owner of ``analytics.duckdb`` and its query endpoint."""
