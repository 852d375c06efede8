"""The REST routes, one module per domain; each exposes ``router``."""
