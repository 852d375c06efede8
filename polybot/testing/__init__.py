"""Test and notebook helpers: builders, FakeContext, generated sample recordings, and (in
``polybot.testing.stack``, imported on demand) isolated real stacks for end-to-end tests."""

from polybot.testing.builders import FakeContext, make_book, make_market, make_view

__all__ = ["FakeContext", "make_book", "make_market", "make_view"]
