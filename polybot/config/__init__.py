"""Settings: where things are and the secrets (env + optional TOML), validated at start-up."""

from polybot.config.settings import (
    ApiSettings,
    BusSettings,
    PolymarketCredentials,
    Settings,
    VenueSettings,
    load_settings,
    masked_settings,
)

__all__ = [
    "ApiSettings",
    "BusSettings",
    "PolymarketCredentials",
    "Settings",
    "VenueSettings",
    "load_settings",
    "masked_settings",
]
