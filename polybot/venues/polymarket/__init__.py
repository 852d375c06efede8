"""Polymarket CLOB V2 / Gamma / Data API clients, auth and signing. Wire names stay in here."""
