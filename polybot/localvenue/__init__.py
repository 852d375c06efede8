"""The local, protocol-faithful Polymarket: exchange core, synthetic world and background flow.

The HTTP/WS layer lives in ``polybot.localvenue.server`` and talks only to :class:`Exchange`.
"""

from polybot.localvenue.exchange import Exchange, Listener

__all__ = ["Exchange", "Listener"]
