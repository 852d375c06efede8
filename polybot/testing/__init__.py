"""Test and notebook helpers: builders, FakeContext and generated sample recordings."""

from polybot.testing.builders import FakeContext, make_book, make_market, make_view

__all__ = ["FakeContext", "make_book", "make_market", "make_view"]
