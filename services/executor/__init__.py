"""The executor service: signals in (PULL), orders to the venue, fates out (PUB events)."""
