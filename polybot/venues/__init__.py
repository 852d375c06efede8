"""Venues: where orders go. Polymarket's wire names stay inside ``venues.polymarket``."""
