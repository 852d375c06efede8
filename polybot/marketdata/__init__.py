"""Market data: the scanner's universe, feed, snapshot endpoint and recording hook.

* ``universe`` — discover and refresh the tracked markets from Gamma; mirror them into SQLite.
* ``stream`` / ``feed`` — sharded market-channel sockets, verified books, REST fallback, and the
  messages published on ``prices.pub``.
* ``snapshots`` — book snapshots over REQ/REP for subscribers that saw a gap.
* ``recording`` / ``deadletters`` — every frame kept for replay; unparseable ones dead-lettered.
* ``scanner`` — all of the above assembled (what ``services/scanner`` runs).

See docs/services-data.md.
"""
