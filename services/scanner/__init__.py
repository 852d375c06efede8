"""The scanner service: Polymarket market data in, ``prices.pub`` out."""
